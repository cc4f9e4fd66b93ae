"""What a cold start imports: the api function answers a webhook without its management routes,
Powertools' OpenAPI models or httpx, each loaded by the first request that needs it (functions/api/app.py).

The requests run in a new process over moto, as a new Lambda sandbox would answer them: this process has
imported everything already.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tests.conftest import ROOT, run_python

OPENAPI_MODELS = "aws_lambda_powertools.event_handler.openapi.models"
MANAGEMENT_ROUTES = "intercom_events.api.instances"
HTTPX = "httpx"
WATCHED = (OPENAPI_MODELS, MANAGEMENT_ROUTES, HTTPX)
MARK = "imported after"

# One process: AWS from moto, the api function loaded as Lambda loads it, then one request after another;
# after each, the watched modules already imported (a JSON line after MARK; the function logs there too).
SANDBOX = """
import json, os, sys

from moto import mock_aws

from local.aws import create_resources
from tests.conftest import AUTH, ROOT, invoke, load_event

def imported(stage, answer=None):
    mark, *watched = sys.argv[1:]
    watched = [name for name in watched if name in sys.modules]
    status = answer["statusCode"] if answer else None
    print(mark, json.dumps({"stage": stage, "status": status, "imported": watched}), flush=True)

imported("before")
with mock_aws():
    for name, value in create_resources(None).environment().items():
        if name != "AWS_ENDPOINT_URL":
            os.environ[name] = value
    sys.path.insert(0, str(ROOT / "functions" / "api"))  # as Lambda imports the handler
    import app as api
    # The sample webhook's instance, made below the API: its route would load the management routes.
    from intercom_events.logic import auth, instances
    from intercom_events.models.instance import CreateInstanceBody

    body = CreateInstanceBody.model_validate_json(load_event("api/create_instance_token.json")["body"])
    instances.create(auth.authenticate(AUTH, allow_element=False), body, "https://example.com")
    imported("import")
    imported("webhook", invoke(api, load_event("api/webhook_contact_created.json"), "api"))
    imported("webhook check", invoke(api, load_event("api/webhook_head.json"), "api"))
    imported("management call", invoke(api, load_event("api/list_instances.json"), "api"))
    imported("document", invoke(api, load_event("api/openapi.json"), "api"))
"""


def sandbox() -> dict[str, dict[str, Any]]:
    lines = run_python(SANDBOX, MARK, *WATCHED)
    stages = [json.loads(line.removeprefix(MARK)) for line in lines if line.startswith(MARK)]
    return {stage.pop("stage"): stage for stage in stages}


def test_a_webhook_loads_neither_the_management_routes_nor_the_openapi_models(base_env: None) -> None:
    stages = sandbox()

    assert stages["before"]["imported"] == []  # nothing the sandbox needs before the function loads them
    assert stages["import"]["imported"] == []
    assert stages["webhook"] == {"status": 200, "imported": []}
    assert stages["webhook check"] == {"status": 200, "imported": []}
    # A management call loads its routes (and httpx, which they call Intercom with), not the document.
    assert stages["management call"] == {"status": 200, "imported": [MANAGEMENT_ROUTES, HTTPX]}
    # /openapi.json is the first to need Powertools' OpenAPI models.
    assert stages["document"]["status"] == 200
    assert set(stages["document"]["imported"]) == set(WATCHED)


# Each function's app imported with tracing on, as template.yaml sets it, then the patches X-Ray made.
TRACED = """
import sys

from aws_xray_sdk.core.patcher import _PATCHED_MODULES

from tests.conftest import ROOT, run_python

function = sys.argv[1]
sys.path.insert(0, str(ROOT / "functions" / function))
import app

print(function, "import", *sorted(_PATCHED_MODULES))
if function == "api":
    app.management_routes()
    print(function, "management routes", *sorted(_PATCHED_MODULES))
"""


def traced(function: str) -> list[str]:
    environment = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),  # Powertools traces only on Lambda
    }
    return [line for line in run_python(TRACED, function, env=environment) if line.startswith(function)]


def test_x_ray_traces_the_aws_and_httpx_calls_each_function_makes(base_env: None) -> None:
    # Only the libraries the functions call out with, each once the function has code that calls it.
    assert traced("api") == ["api import botocore", "api management routes botocore httpx"]
    assert traced("dispatcher") == ["dispatcher import botocore"]  # see functions/dispatcher/app.py
    assert traced("poller") == ["poller import botocore httpx"]
