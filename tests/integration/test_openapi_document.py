"""The OpenAPI document is committed (docs/openapi.json) and must match what the code generates.

Regenerate after changing a route or a model: `make openapi`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROOT, http_answer, load_event

COMMITTED = ROOT / "docs" / "openapi.json"
DOCUMENT = json.loads(COMMITTED.read_text())
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]
IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def describes_a_body(schema: dict[str, Any]) -> bool:
    """A schema that says what the body holds: named fields, items that do, or text; not a bare object."""
    schema = resolved(schema)
    if schema.get("type") == "array":
        return describes_a_body(schema.get("items", {}))
    if schema.get("type") == "string":
        return True
    return schema.get("type") == "object" and bool(schema.get("properties"))


def validates_input(operation: dict[str, Any]) -> bool:
    """Whether some request can fail the operation's validation: a body, a required query parameter,
    or a parameter that is not any text."""
    if operation.get("requestBody"):
        return True
    for parameter in operation.get("parameters", []):
        schema = parameter["schema"]
        required_query = parameter["required"] and parameter["in"] == "query"
        typed = any(s.get("type") not in ("string", "null") for s in schema.get("anyOf", [schema]))
        if required_query or typed or "minLength" in schema:
            return True
    return False


def test_the_committed_document_is_what_the_code_generates(api):
    status, generated = http_answer(api, load_event("api/openapi.json"))
    assert status == 200
    assert generated == DOCUMENT, "docs/openapi.json drifted from the code: run `make openapi`"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_success_answer_has_a_schema_of_its_body(method, path, operation):
    successes = {
        status: answer for status, answer in operation["responses"].items() if status.startswith("2")
    }

    assert successes, f"{method} {path} documents no success"
    for status, answer in successes.items():
        assert answer.get("content"), f"{method} {path} {status} has no content"
        for media_type, content in answer["content"].items():
            assert describes_a_body(content.get("schema", {})), f"{method} {path} {status} {media_type}"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_error_answer_is_the_error_body_and_request_validation_is_a_400(method, path, operation):
    errors = {status: answer for status, answer in operation["responses"].items() if status >= "400"}

    assert "422" not in errors  # Powertools' own validation answer: this API answers those with a 400
    for status, answer in errors.items():
        assert answer["content"] == {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}
        }, f"{method} {path} {status}"
    if validates_input(operation):
        assert "400" in errors, f"{method} {path} validates its input, so it answers 400"
