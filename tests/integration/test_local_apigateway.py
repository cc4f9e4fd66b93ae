"""The emulated API Gateway turns HTTP requests into payload 2.0 events and answers back."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.apigateway import ApiGateway, build_event, render_response


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answers with the event it got and the context's attributes."""
    if event["rawPath"].endswith("/boom"):
        raise RuntimeError("boom")
    if event["rawPath"].endswith("/binary"):
        return {"statusCode": 201, "body": base64.b64encode(b"\xff\x00").decode(), "isBase64Encoded": True}
    if event["rawPath"].endswith("/cookies"):
        return {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": "ok"}
    if event["rawPath"].endswith("/bare"):
        return {"hello": "world"}
    seen = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "aws_request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(),
        },
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "multiValueHeaders": {"X-Multi": ["1", "2"]},
        "body": json.dumps(seen),
    }


@pytest.fixture
def gateway() -> Iterator[ApiGateway]:
    with ApiGateway(echo, port=0) as server:
        yield server


def test_a_request_becomes_a_payload_v2_event(gateway: ApiGateway) -> None:
    response = httpx.post(
        f"{gateway.api_url}/instances/7?b=2&a=1&a=3&empty=",
        content=b'{"name": "x"}',
        headers={"Content-Type": "application/json", "X-Dup": "one", "Cookie": "s=1; t=2"},
    )

    assert response.status_code == 200
    event = response.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /elements/api-v2/{proxy+}"
    assert event["rawPath"] == "/elements/api-v2/instances/7"
    assert event["pathParameters"] == {"proxy": "instances/7"}
    assert event["rawQueryString"] == "b=2&a=1&a=3&empty="
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3", "empty": ""}
    assert event["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-dup"] == "one"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["body"] == '{"name": "x"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/elements/api-v2/instances/7"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"].startswith("python-httpx")
    assert context["domainName"] == f"127.0.0.1:{gateway.port}"
    assert context["stage"] == "$default"
    assert isinstance(context["timeEpoch"], int)
    assert response.headers["apigw-requestid"] == context["requestId"]


def test_the_handler_gets_a_lambda_context(gateway: ApiGateway) -> None:
    context = httpx.get(f"{gateway.api_url}/health").json()["context"]

    assert context["function_name"] == "api"
    assert context["memory_limit_in_mb"] > 0
    assert context["invoked_function_arn"].endswith(":function:api")
    assert context["aws_request_id"]
    assert 0 < context["remaining"] <= 29_000


def test_the_answer_carries_status_headers_and_body(gateway: ApiGateway) -> None:
    response = httpx.get(f"{gateway.api_url}/x")

    assert response.headers["x-echo"] == "yes"
    assert response.headers.get_list("x-multi") == ["1", "2"]


def test_duplicate_request_headers_are_joined_with_commas() -> None:
    event = build_event(
        method="GET",
        target="/elements/api-v2/x",
        headers=[("Accept", "a"), ("accept", "b"), ("Host", "h")],
        body=b"",
        source_ip="127.0.0.1",
        server_port=3000,
    )

    assert event["headers"]["accept"] == "a,b"
    assert "body" not in event
    assert "queryStringParameters" not in event


def test_a_body_that_is_not_utf8_arrives_base64_encoded(gateway: ApiGateway) -> None:
    event = httpx.post(f"{gateway.api_url}/raw", content=b"\xff\xfe\x00").json()["event"]

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00"


def test_a_base64_answer_is_decoded(gateway: ApiGateway) -> None:
    response = httpx.get(f"{gateway.api_url}/binary")

    assert response.status_code == 201
    assert response.content == b"\xff\x00"


def test_cookies_in_the_answer_become_set_cookie_headers(gateway: ApiGateway) -> None:
    response = httpx.get(f"{gateway.api_url}/cookies")

    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]


def test_an_answer_without_status_code_is_a_json_200(gateway: ApiGateway) -> None:
    response = httpx.get(f"{gateway.api_url}/bare")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"hello": "world"}


def test_head_is_passed_on_and_answered_without_a_body(gateway: ApiGateway) -> None:
    response = httpx.head(f"{gateway.api_url}/events/intercom/NDEw")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-echo"] == "yes"


def test_a_handler_exception_is_a_502_without_details(
    gateway: ApiGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    response = httpx.get(f"{gateway.api_url}/boom")

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_an_unreadable_answer_is_a_502(capsys: pytest.CaptureFixture[str]) -> None:
    with ApiGateway(lambda event, context: {"statusCode": "teapot"}, port=0) as gateway:
        response = httpx.get(f"{gateway.api_url}/x")

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_paths_outside_the_base_path_reach_the_handler_on_the_default_route(gateway: ApiGateway) -> None:
    event = httpx.get(f"{gateway.url}/favicon.ico").json()["event"]

    assert event["routeKey"] == "$default"
    assert "pathParameters" not in event


def test_render_response_keeps_an_empty_body_empty() -> None:
    assert render_response({"statusCode": 204}) == (204, [], b"")
