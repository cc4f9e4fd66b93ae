"""Schemathesis against the local stack (issue #4): every operation of the API's own OpenAPI document,
fed data that fits the document and data that does not, answers no 5xx, only status codes the document
lists, and bodies that match the schemas it gives for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import LocalStack
from tests.property.conftest import loopback_dns_only

# Bounded to keep `make test` quick: a few hundred requests in all. Under the CI profile (conftest.py)
# the same requests on every run, with no example database, as the other property tests.
CI_PROFILE = hypothesis_settings.default.derandomize
CONFIG = {
    "generation": {
        "mode": "all",
        "max-examples": 12,
        "deterministic": CI_PROFILE,
        **({"database": "none"} if CI_PROFILE else {}),
    },
    "phases": {"coverage": {"enabled": True}, "stateful": {"enabled": False}},
}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """`make local`'s stack, with no DNS beyond loopback for the callback URLs the fuzzing makes up."""
    with (
        loopback_dns_only(),
        # In this process: the DNS stand-in above reaches the functions only here.
        LocalStack(
            api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}, functions_in_process=True
        ) as stack,
    ):
        yield stack


@pytest.fixture(scope="module")
def authorization(local_stack: LocalStack) -> str:
    env = local_stack.environment
    return f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"


@pytest.fixture(scope="module")
def origin(local_stack: LocalStack, authorization: str) -> str:
    """`http://127.0.0.1:<port>`: the document's paths already begin with /elements/api-v2."""
    with httpx.Client(base_url=local_stack.api_url, headers={"Authorization": authorization}) as http:
        # A few instances, so that small generated ids sometimes name one that exists.
        for name in ("first", "second", "third"):
            answer = http.post(
                "/instances",
                json={
                    "element": {"key": "intercom"},
                    "name": name,
                    "configuration": {
                        "authentication.type": "token",
                        "intercom.access.token": f"{name}-access-token",
                        "oauth.api.secret": f"{name}-client-secret",
                    },
                },
            )
            assert answer.status_code == 200, answer.text
    return local_stack.api_url.removesuffix("/elements/api-v2")


@pytest.fixture(scope="module")
def api_schema(local_stack: LocalStack, origin: str) -> Any:
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/openapi.json", config=config)
    assert schema.raw_schema["servers"] == [{"url": "/"}]
    schema.config.update(base_url=origin)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_the_api_keeps_to_its_openapi_document(case, authorization):
    case.call_and_validate(headers={"Authorization": authorization}, checks=CHECKS, timeout=30)
