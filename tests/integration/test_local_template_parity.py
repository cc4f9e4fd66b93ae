"""The local stack declares what template.yaml declares: table, queues, functions, route, environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local import aws as local_aws
from local import stack as local_stack
from local.apigateway import ROUTE_KEY
from local.aws import LocalAws

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# Deployed only: locally the secrets themselves come from the environment (ORGANIZATION_SECRET, ...).
DEPLOYED_ONLY = {"ORGANIZATION_SECRET_ARN", "USER_SECRETS_ARN"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    if not TEMPLATE.exists():
        pytest.skip("template.yaml does not exist yet")
    from cfnlint.decode import decode_str

    decoded, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    assert decoded is not None
    return dict(decoded)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r.get("Type") == kind}


def properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name].get("Properties", {}))


def as_set(items: list[dict[str, Any]]) -> set[tuple[tuple[str, Any], ...]]:
    return {tuple(sorted((str(k), v) for k, v in item.items())) for item in items}


@pytest.fixture(scope="module")
def table(template: dict[str, Any]) -> dict[str, Any]:
    [(name, _)] = resources_of(template, "AWS::DynamoDB::Table").items()
    return properties(template, name)


@pytest.fixture(scope="module")
def callback_queue(template: dict[str, Any]) -> dict[str, Any]:
    queues = resources_of(template, "AWS::SQS::Queue")
    [name] = [n for n, r in queues.items() if "RedrivePolicy" in r.get("Properties", {})]
    return properties(template, name)


def function_with_event(template: dict[str, Any], event_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        for event in function.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == event_type:
                return properties(template, name), dict(event.get("Properties", {}))
    raise AssertionError(f"no function with a {event_type} event")


def test_the_table_has_the_templates_keys(table: dict[str, Any]) -> None:
    assert table["BillingMode"] == local_aws.TABLE_BILLING_MODE
    assert as_set(table["KeySchema"]) == as_set(local_aws.TABLE_KEY_SCHEMA)
    assert as_set(table["AttributeDefinitions"]) == as_set(local_aws.TABLE_ATTRIBUTE_DEFINITIONS)


def test_the_table_has_the_templates_indexes(table: dict[str, Any]) -> None:
    def shape(indexes: list[dict[str, Any]]) -> dict[str, Any]:
        return {i["IndexName"]: (as_set(i["KeySchema"]), i["Projection"]["ProjectionType"]) for i in indexes}

    assert shape(table.get("GlobalSecondaryIndexes", [])) == shape(local_aws.TABLE_GLOBAL_SECONDARY_INDEXES)


def test_the_table_has_the_templates_ttl_attribute(table: dict[str, Any]) -> None:
    assert table["TimeToLiveSpecification"]["AttributeName"] == local_aws.TABLE_TTL_ATTRIBUTE


def test_the_callback_queue_has_the_templates_redrive_and_timeouts(callback_queue: dict[str, Any]) -> None:
    assert callback_queue["RedrivePolicy"]["maxReceiveCount"] == local_aws.QUEUE_MAX_RECEIVE_COUNT
    assert int(callback_queue["VisibilityTimeout"]) == local_aws.QUEUE_VISIBILITY_TIMEOUT_SECONDS
    assert int(callback_queue["MessageRetentionPeriod"]) == local_aws.QUEUE_RETENTION_SECONDS


def test_the_api_function_has_the_templates_route_and_timeout(template: dict[str, Any]) -> None:
    function, event = function_with_event(template, "HttpApi")

    assert f"{event['Method']} {event['Path']}" == ROUTE_KEY
    assert function["Timeout"] == local_stack.API_FUNCTION_TIMEOUT_SECONDS


def test_the_dispatcher_has_the_templates_event_source_mapping(template: dict[str, Any]) -> None:
    function, event = function_with_event(template, "SQS")

    assert function["Timeout"] == local_stack.DISPATCHER_FUNCTION_TIMEOUT_SECONDS
    assert event.get("BatchSize", 10) == local_stack.DISPATCHER_BATCH_SIZE
    # The queue worker honours batchItemFailures, which only this setting makes Lambda do.
    assert "ReportBatchItemFailures" in event.get("FunctionResponseTypes", [])


def test_the_functions_memory_matches(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["MemorySize"] == local_stack.FUNCTION_MEMORY_MB


def test_every_variable_the_template_sets_is_set_locally(template: dict[str, Any]) -> None:
    names = set(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    for function in resources_of(template, "AWS::Serverless::Function").values():
        names |= set(function.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    aws = LocalAws("http://127.0.0.1:1", "table", "queue-url", "queue-arn", "dlq-url", "dlq-arn", "key")

    environment = local_stack.function_environment(aws, "http://127.0.0.1:2", environ={})

    assert names - DEPLOYED_ONLY <= set(environment)
