"""Tracing on, as template.yaml runs every function: it must not change what a function does.

In a new process, as a Lambda sandbox of the dispatcher alone would run it (Powertools traces only where
LAMBDA_TASK_ROOT is set; the trace header as Lambda gives it; segments go to a daemon address on loopback
that nothing reads, as X-Ray's UDP emitter allows).
"""

from __future__ import annotations

import json
import os

from tests.conftest import ROOT, run_python

MARK = "delivered:"
# The instance made below the API, so only the dispatcher's code is loaded; ten jobs in one batch to a
# receiver that answers each after 100 ms, so their callbacks are in flight together.
SANDBOX = """
import json, os, sys, time, uuid

from moto import mock_aws

from local.aws import create_resources
from local.receiver import CallbackReceiver, Reply
from tests.conftest import AUTH, ROOT, invoke, load_event

with mock_aws(), CallbackReceiver(default=Reply(delay=0.1)) as receiver:
    for name, value in create_resources(None).environment().items():
        if name != "AWS_ENDPOINT_URL":
            os.environ[name] = value
    sys.path.insert(0, str(ROOT / "functions" / "dispatcher"))
    import app as dispatcher
    from intercom_events.logic import auth, instances
    from intercom_events.models.instance import CreateInstanceBody

    body = json.loads(load_event("api/create_instance_token.json")["body"])
    body["configuration"]["event.notification.callback.url"] = f"{receiver.url}/cb"
    created = instances.create(
        auth.authenticate(AUTH, allow_element=False),
        CreateInstanceBody.model_validate(body),
        "https://example.com",
    )
    batch = load_event("dispatcher/batch.json")
    template = batch["Records"][0]
    records = []
    for _ in range(10):
        job = {**json.loads(template["body"]), "instanceId": created.id, "eventId": str(uuid.uuid4())}
        records.append({**template, "messageId": str(uuid.uuid4()), "body": json.dumps(job)})
    answer = invoke(dispatcher, {"Records": records}, "dispatcher")
    ids = [request.header("webhook-id") for request in receiver.requests]
    sent = [json.loads(record["body"])["eventId"] for record in records]
    print(sys.argv[1], json.dumps({"answer": answer, "received": ids, "sent": sent}))
"""


def test_a_traced_dispatcher_delivers_a_batch_of_concurrent_callbacks_once_each(base_env: None) -> None:
    # X-Ray keeps open subsegments per thread; the batch's callbacks share one: traced, one callback's
    # subsegment ended another's, which then counted as failed though the receiver had it, and was sent again.
    environment = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "dispatcher"),
        "AWS_LAMBDA_FUNCTION_NAME": "dispatcher",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    }
    line = next(line for line in run_python(SANDBOX, MARK, env=environment) if line.startswith(MARK))
    outcome = json.loads(line.removeprefix(MARK))
    assert outcome["answer"] == {"batchItemFailures": []}
    assert sorted(outcome["received"]) == sorted(outcome["sent"])
