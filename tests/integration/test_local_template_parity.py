"""The local stack follows template.yaml: the settings it hands its emulators, the variables it sets,
the route it serves, and how it reads the template's intrinsic functions.

The resources themselves are made from the template (tests/integration/test_local_aws.py checks them).
The template is decoded here on its own, not through local/template.py, so that a mistake there shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local import stack as local_stack
from local import template as cfn
from local.apigateway import ROUTE_KEY
from local.aws import LocalAws

# Deployed only: locally the secrets themselves come from the environment (ORGANIZATION_SECRET, ...).
DEPLOYED_ONLY = {"ORGANIZATION_SECRET_ARN", "USER_SECRETS_ARN"}


def function_properties(template: dict[str, Any], code_uri: str) -> dict[str, Any]:
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and properties["CodeUri"].rstrip("/") == code_uri:
            return dict(properties)
    raise AssertionError(f"no function with CodeUri {code_uri}")


def template_variables(template: dict[str, Any]) -> dict[str, Any]:
    """Every environment variable a function gets: Globals' and each function's own."""
    variables = dict(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables.update(resource["Properties"].get("Environment", {}).get("Variables", {}))
    return variables


@pytest.fixture
def stack() -> Iterator[local_stack.LocalStack]:
    def stand_in(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {}

    with local_stack.LocalStack(
        api_port=0,
        api_handler=stand_in,
        dispatcher_handler=stand_in,
        poller_handler=stand_in,
        run_queue_worker=False,
        run_scheduler=False,
    ) as running:
        yield running


def test_the_stack_gives_each_function_the_templates_timeout_and_the_dispatcher_its_batch_size(
    template: dict[str, Any], stack: local_stack.LocalStack
) -> None:
    api = function_properties(template, "functions/api")
    dispatcher = function_properties(template, "functions/dispatcher")
    poller = function_properties(template, "functions/poller")
    [sqs_source] = [e["Properties"] for e in dispatcher["Events"].values() if e["Type"] == "SQS"]

    assert stack.api.function.timeout_seconds == api["Timeout"]
    assert stack.worker.function.timeout_seconds == dispatcher["Timeout"]
    assert stack.worker.batch_size == sqs_source["BatchSize"]
    assert stack.scheduler.timeout_seconds == poller["Timeout"]


def test_the_dispatchers_source_reports_batch_item_failures(template: dict[str, Any]) -> None:
    # The queue worker honours batchItemFailures, which only this setting makes Lambda do.
    dispatcher = function_properties(template, "functions/dispatcher")
    [sqs_source] = [e["Properties"] for e in dispatcher["Events"].values() if e["Type"] == "SQS"]

    assert "ReportBatchItemFailures" in sqs_source["FunctionResponseTypes"]


def test_the_api_is_served_on_the_templates_route(template: dict[str, Any]) -> None:
    api = function_properties(template, "functions/api")
    [event] = [e["Properties"] for e in api["Events"].values() if e["Type"] == "HttpApi"]

    assert f"{event['Method']} {event['Path']}" == ROUTE_KEY


def test_every_variable_the_template_sets_is_set_locally(template: dict[str, Any]) -> None:
    aws = LocalAws(*(["x"] * 14))

    environment = local_stack.function_environment(aws, "http://127.0.0.1:2", environ={})

    assert set(template_variables(template)) - DEPLOYED_ONLY <= set(environment)


# --- intrinsic functions -------------------------------------------------------------------------------


def lookup(logical_id: str, attribute: str | None) -> str:
    return f"{logical_id}.{attribute}" if attribute else f"ref:{logical_id}"


def test_ref_getatt_and_sub_are_resolved_with_the_local_names() -> None:
    value = {
        "queue": {"Ref": "Queue"},
        "arns": [{"Fn::GetAtt": ["Queue", "Arn"]}, {"Fn::GetAtt": "Bucket.Arn"}],
        "sub": {"Fn::Sub": "${AWS::StackName}-polls/${Bucket.Arn}/*"},
        "sub_with_variables": {"Fn::Sub": ["${Name}:${!Literal}", {"Name": {"Ref": "Table"}}]},
        "plain": 9,
    }

    assert cfn.resolve(value, lookup) == {
        "queue": "ref:Queue",
        "arns": ["Queue.Arn", "Bucket.Arn"],
        "sub": "ref:AWS::StackName-polls/Bucket.Arn/*",
        "sub_with_variables": "ref:Table:${Literal}",
        "plain": 9,
    }


def test_an_intrinsic_function_the_local_stack_does_not_know_fails_by_name() -> None:
    with pytest.raises(cfn.TemplateError, match="Fn::ImportValue"):
        cfn.resolve({"VisibilityTimeout": {"Fn::ImportValue": "shared-timeout"}}, lookup)


def test_what_a_value_refers_to_includes_sub_references_but_not_its_own_variables() -> None:
    value = {"Fn::Sub": ["${Name}-${Table}-${!Literal}-${Bucket.Arn}", {"Name": {"Ref": "Stage"}}]}

    assert cfn.references(value) == {"Table", "Bucket", "Stage"}


def test_a_function_is_found_by_its_folder_or_its_logical_id_and_an_unknown_one_is_named() -> None:
    assert cfn.function("poller").logical_id == "PollerFunction"
    assert cfn.function("PollerFunction").name == "poller"
    with pytest.raises(cfn.TemplateError, match="no function 'nope'"):
        cfn.function("nope")
