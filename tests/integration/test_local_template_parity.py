"""The local stack declares what template.yaml declares: table, queues, functions, route, environment,
and the polling schedules' group, target, role and dead-letter queue."""

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


def function_from(template: dict[str, Any], code_uri: str) -> dict[str, Any]:
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        if str(function.get("Properties", {}).get("CodeUri", "")).rstrip("/") == code_uri:
            return properties(template, name)
    raise AssertionError(f"no function with CodeUri {code_uri}")


def template_variables(template: dict[str, Any]) -> dict[str, Any]:
    """Every environment variable a function gets: Globals' and each function's own."""
    variables = dict(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    for function in resources_of(template, "AWS::Serverless::Function").values():
        variables.update(function.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return variables


def referenced_resource(template: dict[str, Any], value: Any) -> dict[str, Any]:
    """The resource a `!Ref X` or `!GetAtt X.Arn` value names."""
    assert isinstance(value, dict), value
    if "Ref" in value:
        name = value["Ref"]
    else:
        name, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
    return dict(template["Resources"][name])


LOCAL_AWS = LocalAws(
    endpoint_url="http://127.0.0.1:1",
    table_name="table",
    queue_url="queue-url",
    queue_arn="queue-arn",
    dlq_url="dlq-url",
    dlq_arn="dlq-arn",
    kms_key_id="key",
    schedule_group_name="schedules",
    schedule_dlq_url="schedule-dlq-url",
    schedule_dlq_arn="schedule-dlq-arn",
    poller_function_arn="arn:aws:lambda:us-east-1:123456789012:function:local-PollerFunction",
    scheduler_role_arn="arn:aws:iam::123456789012:role/local-SchedulerRole",
    body_bucket_name="bodies",
)


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
    # Batches side by side, never more than the mapping lets Lambda run.
    maximum = event["ScalingConfig"]["MaximumConcurrency"]
    assert maximum == local_stack.DISPATCHER_MAXIMUM_CONCURRENCY
    assert 1 < local_stack.DISPATCHER_CONCURRENCY <= maximum


def test_the_poller_has_the_templates_timeout_and_memory(template: dict[str, Any]) -> None:
    poller = function_from(template, "functions/poller")
    memory = poller.get("MemorySize", template["Globals"]["Function"]["MemorySize"])

    assert poller["Timeout"] == local_stack.POLLER_FUNCTION_TIMEOUT_SECONDS
    assert memory == local_stack.POLLER_FUNCTION_MEMORY_MB


def test_the_functions_memory_matches(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["MemorySize"] == local_stack.FUNCTION_MEMORY_MB


def test_every_variable_the_template_sets_is_set_locally(template: dict[str, Any]) -> None:
    names = set(template_variables(template))

    environment = local_stack.function_environment(LOCAL_AWS, "http://127.0.0.1:2", environ={})

    assert names - DEPLOYED_ONLY <= set(environment)


def test_every_resource_variable_the_embedded_aws_sets_the_template_sets(template: dict[str, Any]) -> None:
    local_names = {name for name in LOCAL_AWS.environment() if not name.startswith("AWS_")}

    assert local_names <= set(template_variables(template))


def test_the_schedule_variables_name_what_the_embedded_aws_makes(template: dict[str, Any]) -> None:
    variables = template_variables(template)

    def kind(name: str) -> str:
        return str(referenced_resource(template, variables[name])["Type"])

    assert kind("SCHEDULE_GROUP_NAME") == "AWS::Scheduler::ScheduleGroup"
    assert kind("POLLER_FUNCTION_ARN") == "AWS::Serverless::Function"
    assert kind("SCHEDULER_ROLE_ARN") == "AWS::IAM::Role"
    assert kind("SCHEDULE_DLQ_ARN") == "AWS::SQS::Queue"
    poller = referenced_resource(template, variables["POLLER_FUNCTION_ARN"])
    assert str(poller["Properties"]["CodeUri"]).rstrip("/") == "functions/poller"
    schedule_dlq = referenced_resource(template, variables["SCHEDULE_DLQ_ARN"])["Properties"]
    assert int(schedule_dlq["MessageRetentionPeriod"]) == local_aws.QUEUE_RETENTION_SECONDS
