"""What one webhook, one delivery and one poll cost: AWS calls counted, in-process latency measured.

Run: `.venv/bin/python -m benchmarks.aws_calls` (moto in-process, the simulated Intercom and a
receiver on loopback). Figures only; nothing here is a test.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from typing import Any
from unittest import mock

from benchmarks.in_process import ROOT, load, prepare

prepare()

import botocore.client  # noqa: E402
from moto import mock_aws  # noqa: E402

calls: Counter[str] = Counter()
_original = botocore.client.BaseClient._make_api_call


def _counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
    calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
    return _original(self, operation, params)


def measure(label: str, action: Any, runs: int = 1) -> Any:
    calls.clear()
    started = time.perf_counter()
    result = None
    for _ in range(runs):
        result = action()
    elapsed = (time.perf_counter() - started) * 1000 / runs
    per_run = {name: count / runs for name, count in sorted(calls.items())}
    print(f"{label}: {elapsed:.1f} ms per run; AWS calls per run: {json.dumps(per_run)}")
    return result


def main() -> None:
    from intercom_events.config import settings

    from local.aws import create_resources
    from local.intercom import SimulatedIntercom
    from local.lambda_runtime import LocalFunction
    from local.queue_worker import QueueWorker
    from local.receiver import CallbackReceiver

    with mock_aws(), mock.patch.object(botocore.client.BaseClient, "_make_api_call", _counting):
        resources = create_resources(None)  # type: ignore[arg-type]
        for name, value in resources.environment().items():
            if name != "AWS_ENDPOINT_URL":
                os.environ[name] = value
        intercom = SimulatedIntercom().start()
        receiver = CallbackReceiver().start()
        os.environ["INTERCOM_API_BASE_URL"] = intercom.url
        settings.cache_clear()
        api, dispatcher, poller = (LocalFunction(n, load(n).lambda_handler, timeout_seconds=300)
                                   for n in ("api", "dispatcher", "poller"))  # fmt: skip
        events = ROOT / "events"
        create = json.loads((events / "api/create_instance_token.json").read_text())
        body = json.loads(create["body"])
        body["configuration"]["event.notification.callback.url"] = f"{receiver.url}/cb"
        create["body"] = json.dumps(body)
        measure("create instance (webhook)", lambda: api.invoke(create))
        webhook = json.loads((events / "api/webhook_contact_created.json").read_text())
        measure("webhook intake, cold instance cache", lambda: api.invoke(webhook))
        os.environ["INSTANCE_CACHE_SECONDS"] = "5"
        settings.cache_clear()
        api.invoke(webhook)
        latencies = []
        calls.clear()
        for _ in range(50):
            started = time.perf_counter()
            api.invoke(webhook)
            latencies.append((time.perf_counter() - started) * 1000)
        print(f"webhook intake, warm: median {statistics.median(latencies):.1f} ms, p95 "
              f"{sorted(latencies)[int(len(latencies) * 0.95)]:.1f} ms over 50; AWS calls per webhook: "
              f"{json.dumps({k: v / 50 for k, v in sorted(calls.items())})}")  # fmt: skip
        worker = QueueWorker(dispatcher.handler, resources.queue_url, endpoint_url=None, wait_seconds=0)  # type: ignore[arg-type]
        sqs = resources.client("sqs")
        sqs.purge_queue(QueueUrl=resources.queue_url)
        os.environ["INSTANCE_CACHE_SECONDS"] = "0"
        settings.cache_clear()
        create["body"] = json.dumps({**body, "name": "fresh"})
        api.invoke(create)
        webhook_2 = json.loads((events / "api/webhook_contact_created.json").read_text())
        webhook_2["rawPath"] = webhook_2["requestContext"]["http"]["path"] = (
            "/elements/api-v2/events/intercom/Mg=="
        )
        api.invoke(webhook_2)
        calls.clear()
        measure("one delivery (a batch of one; instance and state read, no cache)", worker.drain_once)
        polling = json.loads((events / "api/create_instance_polling.json").read_text())
        polling_body = json.loads(polling["body"])
        polling_body["configuration"]["event.objects"] = "contacts"
        polling["body"] = json.dumps(polling_body)
        intercom.issue_token(token="sample-access-token")  # noqa: S106 - the sample event's token
        instance_id = json.loads(api.invoke(polling)["body"])["id"]
        time.sleep(1.1)
        intercom.workspace.seed("contacts", 3000, start=int(time.time()) - 30 * 86400, spacing=600)
        for i in range(25):
            intercom.workspace.create("contacts", email=f"c{i}@example.com")
        before = len(intercom.requests)
        measure(
            "poll of 25 changes in a 3,025-contact workspace",
            lambda: poller.invoke({"instanceId": instance_id}),
        )
        print(f"  Intercom requests in that poll: {len(intercom.requests) - before}")
        receiver.stop()
        intercom.stop()


if __name__ == "__main__":
    main()
