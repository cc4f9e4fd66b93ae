"""The SAM template keeps the promises the architecture makes.

Checked on the template as written (decoded by cfn-lint) and, where SAM expands something (policy
templates into IAM statements), on the CloudFormation that the SAM translator produces.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ENV_JSON = ROOT / "env.json"
PACKAGE = ROOT / "layers" / "core" / "intercom_events"

# The property that would give each resource type a fixed, account-wide name.
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Serverless::Api": "Name",
    "AWS::Serverless::HttpApi": "Name",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
}

# Services whose actions touch data: never granted on every resource.
DATA_SERVICES = {"dynamodb", "sqs", "kms", "secretsmanager", "s3", "events"}

# The AWS-managed policies SAM attaches to the roles it generates (logs, X-Ray, the SQS event source).
SAM_MANAGED_POLICIES = {
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess",
    "service-role/AWSLambdaSQSQueueExecutionRole",
}

MAX_RECEIVE_COUNT = 9  # the first attempt plus the 8 retries of the delivery schedule


# ---- loading ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, problems = decode_str(TEMPLATE.read_text())
    assert not problems, [str(p) for p in problems]
    # Plain dicts and strings, without cfn-lint's position-carrying node classes.
    plain: dict[str, Any] = json.loads(json.dumps(decoded))
    return plain


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation SAM deploys: policy templates and event sources expanded."""
    sam_transform = pytest.importorskip(
        "samtranslator.translator.transform", reason="aws-sam-translator is not installed"
    )

    class NoManagedPolicyNames:
        """The template names no managed policy by its short name, so there is nothing to look up."""

        def load(self) -> dict[str, str]:
            return {}

    packaged = json.loads(json.dumps(template))
    # As `sam package` leaves it: code in S3 rather than in local folders.
    for resource in packaged["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                resource["Properties"][key] = f"s3://artifacts/{resource['Properties'][key].strip('/')}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        output: dict[str, Any] = sam_transform.transform(packaged, {}, NoManagedPolicyNames())
    return output


def resources(document: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in document["Resources"].items()
        if not types or resource["Type"] in types
    }


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced_id(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def sub_text(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return None


def global_function_property(template: dict[str, Any], name: str) -> Any:
    return template.get("Globals", {}).get("Function", {}).get(name)


# ---- names --------------------------------------------------------------------------------------------


def test_no_resource_has_a_fixed_name(template: dict[str, Any]) -> None:
    """A name, where set, derives from the stack or a generated name, so stages share an account."""
    logical_ids = set(template["Resources"])
    offenders = []
    for logical_id, resource in resources(template).items():
        key = NAME_PROPERTIES.get(resource["Type"])
        if key is None or key not in props(resource):
            continue
        value = props(resource)[key]
        text = sub_text(value)
        placeholders = set(re.findall(r"\$\{([^}!.]+)[^}]*\}", text)) if text else set()
        derived = referenced_id(value) in logical_ids or bool(
            placeholders & (logical_ids | {"AWS::StackName", "AWS::StackId"})
        )
        if not derived:
            offenders.append(f"{logical_id}.{key}")
    assert offenders == []


def test_secret_values_are_generated_at_deploy_time(template: dict[str, Any]) -> None:
    secrets = resources(template, "AWS::SecretsManager::Secret")
    assert secrets
    for logical_id, secret in secrets.items():
        assert "SecretString" not in props(secret), logical_id
        assert "GenerateSecretString" in props(secret), logical_id
        assert "KmsKeyId" in props(secret), logical_id


# ---- queues -------------------------------------------------------------------------------------------


def dead_letter_queue_ids(template: dict[str, Any]) -> set[str]:
    """Queues named by a redrive policy, or handed to Scheduler as a dead-letter queue (`*_DLQ_ARN`)."""
    targets = [
        referenced_id(props(queue)["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in props(queue)
    ]
    for function in resources(template, "AWS::Serverless::Function").values():
        variables = props(function).get("Environment", {}).get("Variables", {})
        targets += [referenced_id(value) for name, value in variables.items() if name.endswith("_DLQ_ARN")]
    return {target for target in targets if target}


def test_every_queue_is_encrypted_at_rest(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    assert queues
    unencrypted = [
        logical_id
        for logical_id, queue in queues.items()
        if props(queue).get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in props(queue)
    ]
    assert unencrypted == []


def test_every_queue_but_a_dead_letter_queue_redrives_after_the_last_retry(template: dict[str, Any]) -> None:
    dead_letter_queues = dead_letter_queue_ids(template)
    assert dead_letter_queues
    for logical_id, queue in resources(template, "AWS::SQS::Queue").items():
        if logical_id in dead_letter_queues:
            continue
        redrive = props(queue).get("RedrivePolicy")
        assert redrive, f"{logical_id} has no dead-letter queue"
        assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT, logical_id


def test_every_dead_letter_queue_keeps_messages_fourteen_days(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    for logical_id in dead_letter_queue_ids(template):
        assert int(props(queues[logical_id])["MessageRetentionPeriod"]) == 14 * 24 * 3600


def sqs_event_sources(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (function_id, event["Properties"])
        for function_id, function in resources(template, "AWS::Serverless::Function").items()
        for event in props(function).get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_queue_consumers_report_batch_item_failures(template: dict[str, Any]) -> None:
    sources = sqs_event_sources(template)
    assert sources
    for function_id, source in sources:
        assert "ReportBatchItemFailures" in source.get("FunctionResponseTypes", []), function_id


def test_queue_visibility_is_six_times_its_consumers_timeout(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    functions = resources(template, "AWS::Serverless::Function")
    for function_id, source in sqs_event_sources(template):
        queue = queues[str(referenced_id(source["Queue"]))]
        timeout = props(functions[function_id]).get("Timeout", global_function_property(template, "Timeout"))
        assert int(props(queue)["VisibilityTimeout"]) >= 6 * int(timeout), function_id


# ---- logs ---------------------------------------------------------------------------------------------


def test_every_log_group_has_a_retention(template: dict[str, Any]) -> None:
    log_groups = resources(template, "AWS::Logs::LogGroup")
    assert log_groups
    assert [i for i, group in log_groups.items() if "RetentionInDays" not in props(group)] == []


def test_every_function_has_its_own_log_group(template: dict[str, Any]) -> None:
    log_groups = resources(template, "AWS::Logs::LogGroup")
    named_after = {sub_text(props(group).get("LogGroupName")): i for i, group in log_groups.items()}
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        explicit = referenced_id(props(function).get("LoggingConfig", {}).get("LogGroup"))
        assert explicit in log_groups or f"/aws/lambda/${{{function_id}}}" in named_after, function_id


def test_functions_log_json(template: dict[str, Any]) -> None:
    default = (global_function_property(template, "LoggingConfig") or {}).get("LogFormat")
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        log_format = props(function).get("LoggingConfig", {}).get("LogFormat", default)
        assert log_format == "JSON", function_id


# ---- permissions --------------------------------------------------------------------------------------


def iam_statements(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in resources(
        document, "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"
    ).items():
        documents = [policy["PolicyDocument"] for policy in props(resource).get("Policies", [])]
        if "PolicyDocument" in props(resource):
            documents.append(props(resource)["PolicyDocument"])
        for policy_document in documents:
            for statement in as_list(policy_document.get("Statement", [])):
                found.append((logical_id, statement))
    return found


def test_no_iam_statement_allows_every_action_of_a_service(transformed: dict[str, Any]) -> None:
    """`*` and `service:*` are refused; a narrow prefix such as SAM's `sqs:SendMessage*` is not."""
    statements = iam_statements(transformed)
    assert statements
    offenders = [
        f"{logical_id}: {action}"
        for logical_id, statement in statements
        if statement.get("Effect") == "Allow"
        for action in as_list(statement.get("Action", []))
        if action == "*" or str(action).endswith(":*")
    ]
    assert offenders == []


def test_no_iam_statement_grants_data_actions_on_every_resource(transformed: dict[str, Any]) -> None:
    offenders = []
    for logical_id, statement in iam_statements(transformed):
        services = {str(action).split(":")[0] for action in as_list(statement.get("Action", []))}
        everywhere = "*" in as_list(statement.get("Resource", [])) or "NotResource" in statement
        if statement.get("Effect") == "Allow" and services & DATA_SERVICES and everywhere:
            offenders.append(f"{logical_id}: {sorted(services & DATA_SERVICES)}")
    assert offenders == []


def test_roles_carry_only_the_managed_policies_sam_attaches(transformed: dict[str, Any]) -> None:
    attached = set()
    for role in resources(transformed, "AWS::IAM::Role").values():
        for arn in props(role).get("ManagedPolicyArns", []):
            text = sub_text(arn) or str(arn)
            attached.add(text.split(":policy/", 1)[-1])
    assert attached <= SAM_MANAGED_POLICIES


def test_function_policies_are_scoped_to_resources_of_this_stack(template: dict[str, Any]) -> None:
    """No managed policy names: each grant is a SAM policy template on one resource, or (where SAM has
    no template, as for Scheduler) an inline statement whose every resource is one of this stack's."""
    logical_ids = set(template["Resources"])
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        for policy in as_list(props(function).get("Policies", [])):
            assert isinstance(policy, dict) and len(policy) == 1, f"{function_id}: {policy}"
            ((template_name, parameters),) = policy.items()
            if template_name == "Statement":
                for statement in as_list(parameters):
                    for resource in as_list(statement["Resource"]):
                        target = referenced_id(resource) or _sub_reference(resource)
                        assert target in logical_ids, f"{function_id}: inline statement on {resource}"
                continue
            targets = [referenced_id(value) for value in parameters.values()]
            assert len(targets) == 1 and targets[0] in logical_ids, f"{function_id}: {template_name}"


def _sub_reference(value: Any) -> str | None:
    """The logical id a `!Sub` ARN is built on (`...schedule/${PollScheduleGroup}/*`), if exactly one."""
    names = re.findall(r"\$\{([A-Za-z0-9]+)\}", sub_text(value) or "")
    return names[0] if len(names) == 1 else None


# ---- alarms -------------------------------------------------------------------------------------------


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = resources(template, "AWS::CloudWatch::Alarm")
    return {logical_id: props(alarm) for logical_id, alarm in found.items()}


def dimension_targets(alarm: dict[str, Any], name: str) -> set[str | None]:
    """The logical ids the alarm's dimension `name` refers to (`!Ref X` or `!GetAtt X.Attribute`)."""
    return {referenced_id(d["Value"]) for d in alarm.get("Dimensions", []) if d["Name"] == name}


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_alarm_on_its(template: dict[str, Any], metric: str) -> None:
    alarmed = set()
    for alarm in alarms(template).values():
        if alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == metric:
            alarmed |= dimension_targets(alarm, "FunctionName")
    functions = set(resources(template, "AWS::Serverless::Function"))
    assert functions
    assert functions - alarmed == set()


def test_every_dead_letter_queue_has_an_alarm_on_its_visible_messages(template: dict[str, Any]) -> None:
    alarmed = set()
    for alarm in alarms(template).values():
        if alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible":
            assert int(alarm["Threshold"]) == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
            alarmed |= dimension_targets(alarm, "QueueName")
    assert dead_letter_queue_ids(template) - alarmed == set()


def test_every_alarm_notifies_the_alarm_topic(template: dict[str, Any]) -> None:
    topics = set(resources(template, "AWS::SNS::Topic"))
    found = alarms(template)
    assert found
    for logical_id, alarm in found.items():
        targets = {referenced_id(action) for action in alarm.get("AlarmActions", [])}
        assert targets and targets <= topics, logical_id


def test_the_api_alarms_on_server_errors(template: dict[str, Any]) -> None:
    matching = [
        alarm
        for alarm in alarms(template).values()
        if alarm["Namespace"] == "AWS/ApiGateway" and alarm["MetricName"] == "5xx"
    ]
    assert [dimension_targets(alarm, "ApiId") for alarm in matching] == [{"HttpApi"}]


def test_the_callback_queue_alarms_on_the_age_of_its_oldest_message(template: dict[str, Any]) -> None:
    matching = [
        alarm for alarm in alarms(template).values() if alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    ]
    queues_with_redrive = {
        logical_id
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in props(queue)
    }
    assert [dimension_targets(alarm, "QueueName") for alarm in matching] == [queues_with_redrive]


def test_the_queue_age_alarm_waits_out_the_longest_retry_delay(template: dict[str, Any]) -> None:
    """A callback waiting for its next try must not look like a stuck queue."""
    from intercom_events.callbacks.schedule import MAX_DELAY_SECONDS, RETRY_DELAYS

    [alarm] = [a for a in alarms(template).values() if a["MetricName"] == "ApproximateAgeOfOldestMessage"]
    parameter = template["Parameters"][str(referenced_id(alarm["Threshold"]))]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert int(parameter["Default"]) >= MAX_DELAY_SECONDS >= max(RETRY_DELAYS)
    assert int(parameter["MinValue"]) > 0


def product_metric_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alarms on the functions' own metrics (Powertools), by metric name."""
    return {
        alarm["MetricName"]: alarm
        for alarm in alarms(template).values()
        if isinstance(alarm["Namespace"], dict) or not alarm["Namespace"].startswith("AWS/")
    }


def test_delivery_failures_and_poller_authorisation_errors_raise_alarms(template: dict[str, Any]) -> None:
    found = product_metric_alarms(template)
    assert {"DeliveriesFailed", "PollerAuthErrors"} <= set(found)
    assert referenced_id(found["DeliveriesFailed"]["Threshold"]) in template["Parameters"]
    auth = found["PollerAuthErrors"]
    assert (int(auth["Threshold"]), auth["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_failed_polls_and_a_stuck_instance_raise_alarms_that_tell_when_they_clear(
    template: dict[str, Any],
) -> None:
    found = product_metric_alarms(template)
    assert {"PollErrors", "PollerStuck"} <= set(found)
    assert referenced_id(found["PollErrors"]["Threshold"]) in template["Parameters"]
    stuck = found["PollerStuck"]
    # Raised once per failed poll of a stuck instance, every refresh interval: one in the last hour.
    assert (int(stuck["Threshold"]), stuck["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert int(stuck["Period"]) * int(stuck["EvaluationPeriods"]) >= 3600
    assert int(stuck["DatapointsToAlarm"]) == 1
    for name in ("PollErrors", "PollerStuck"):
        assert found[name]["OKActions"] == found[name]["AlarmActions"], name


def test_every_alarm_on_the_functions_metrics_watches_a_metric_they_publish(template: dict[str, Any]) -> None:
    """A renamed or dropped metric would leave its alarm silent for good (missing data: not breaching)."""
    alarmed = set(product_metric_alarms(template))
    assert alarmed
    assert alarmed - published_metric_names() == set()


def test_alarms_on_the_functions_metrics_use_the_namespace_and_service_they_publish_under(
    template: dict[str, Any],
) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    service = [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    found = product_metric_alarms(template)
    assert found
    for name, alarm in found.items():
        assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"], name
        assert alarm["Dimensions"] == service, name


def test_metrics_are_kept_apart_per_stack(template: dict[str, Any]) -> None:
    """Two stages in one account publish to different namespaces, so neither trips the other's alarms."""
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert "${AWS::StackName}" in str(sub_text(namespace))


# ---- dashboard ----------------------------------------------------------------------------------------


def published_metric_names() -> set[str]:
    """Every metric the package publishes (`add_metric(name="...")`)."""
    return {
        name
        for path in PACKAGE.rglob("*.py")
        for name in re.findall(r"add_metric\(\s*name=\"([A-Za-z]+)\"", path.read_text())
    }


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The dashboard's body as written (placeholders in) and as JSON (placeholders replaced)."""
    [board] = resources(template, "AWS::CloudWatch::Dashboard").values()
    assert "DashboardName" not in props(board)
    text = sub_text(props(board)["DashboardBody"])
    assert text is not None, "the body is built with !Sub"
    numeric = {name for name, p in template.get("Parameters", {}).items() if p["Type"] == "Number"}
    rendered = re.sub(r"\$\{([^}]+)\}", lambda m: "1" if m.group(1) in numeric else f"<{m.group(1)}>", text)
    body: dict[str, Any] = json.loads(rendered)
    return text, body


def test_the_dashboard_shows_every_function(template: dict[str, Any], dashboard: tuple[str, Any]) -> None:
    text, _ = dashboard
    for function_id in resources(template, "AWS::Serverless::Function"):
        assert f"${{{function_id}}}" in text, function_id


def test_the_dashboard_names_only_what_the_template_declares(
    template: dict[str, Any], dashboard: tuple[str, Any]
) -> None:
    text, _ = dashboard
    known = set(template["Resources"]) | set(template.get("Parameters", {}))
    placeholders = {name.split(".")[0] for name in re.findall(r"\$\{([^}]+)\}", text)}
    assert {name for name in placeholders if not name.startswith("AWS::")} - known == set()


def test_the_dashboard_shows_every_metric_the_functions_publish(dashboard: tuple[str, Any]) -> None:
    _, body = dashboard
    shown = {
        row[1]
        for widget in body["widgets"]
        for row in widget["properties"].get("metrics", [])
        if str(row[0]).startswith("IntercomEvents")
    }
    published = published_metric_names()
    assert published
    assert published - shown == set()


def test_the_dashboard_shows_the_queues_and_the_api(
    template: dict[str, Any], dashboard: tuple[str, Any]
) -> None:
    text, _ = dashboard
    for queue_id in resources(template, "AWS::SQS::Queue"):
        assert f"${{{queue_id}.QueueName}}" in text, queue_id
    assert "${HttpApi}" in text


# ---- sam local invoke ---------------------------------------------------------------------------------


# Values SAM CLI itself gives every function, whatever the template says.
SAM_LOCAL_PROVIDED = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def function_variables(template: dict[str, Any], function_id: str) -> dict[str, Any]:
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    function = template["Resources"][function_id]
    variables.update(props(function).get("Environment", {}).get("Variables", {}))
    return variables


def env_json_for(function_id: str) -> dict[str, str]:
    """What `sam local invoke --env-vars env.json` offers a function: "Parameters", then its own block."""
    document = json.loads(ENV_JSON.read_text())
    return {**document.get("Parameters", {}), **document.get(function_id, {})}


def test_env_json_sets_only_variables_the_template_declares(template: dict[str, Any]) -> None:
    """SAM drops, without a word, any env.json value for a variable the function does not declare."""
    document = json.loads(ENV_JSON.read_text())
    functions = set(resources(template, "AWS::Serverless::Function"))
    assert set(document) - {"Parameters"} <= functions
    for function_id in functions:
        dropped = set(env_json_for(function_id)) - set(function_variables(template, function_id))
        assert dropped - SAM_LOCAL_PROVIDED == set(), function_id
        assert dropped & SAM_LOCAL_PROVIDED == set(), f"{function_id}: SAM CLI sets these itself"


def test_env_json_fills_in_every_resource_and_local_only_variable(template: dict[str, Any]) -> None:
    """Locally there are no stack resources: what the template points at one (or leaves empty for
    local runs) must come from env.json, for every function."""
    parameters = set(template.get("Parameters", {}))
    functions = resources(template, "AWS::Serverless::Function")
    assert set(json.loads(ENV_JSON.read_text())) == {"Parameters", *functions}
    for function_id in functions:
        needed = {
            name
            for name, value in function_variables(template, function_id).items()
            if value == "" or (isinstance(value, dict) and referenced_id(value) not in parameters)
        }
        assert needed - set(env_json_for(function_id)) == set(), function_id


def test_the_template_declares_what_sam_local_invoke_needs(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    local_only = {"AWS_ENDPOINT_URL", "ORGANIZATION_SECRET", "USER_SECRET", "ALLOW_HTTP_CALLBACKS"}
    assert local_only <= set(variables)
    # Harmless deployed: no endpoint override, no plain secret, no plain-http callbacks.
    assert variables["AWS_ENDPOINT_URL"] == variables["ORGANIZATION_SECRET"] == variables["USER_SECRET"] == ""
    assert variables["ALLOW_HTTP_CALLBACKS"] == "false"


# ---- dependencies -------------------------------------------------------------------------------------


def normalized_requirement(line: str) -> str:
    requirement = re.sub(r"\s+", "", line)
    match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(.*)", requirement)
    assert match, line
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() + match.group(2).lower()


def test_layer_requirements_are_the_project_dependencies() -> None:
    layer = [
        normalized_requirement(line)
        for line in (ROOT / "layers/core/requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(layer) == sorted(normalized_requirement(requirement) for requirement in project)


def test_the_api_throttle_is_a_parameter_a_deployer_raises_above_the_webhook_peak(
    template: dict[str, Any],
) -> None:
    """A webhook API Gateway refuses (429) never reaches us: the limit must be settable per deployment
    (docs/capacity.md), and no higher than the 10,000 a second every API of the account shares."""
    [api] = resources(template, "AWS::Serverless::HttpApi").values()
    route_settings = props(api)["DefaultRouteSettings"]
    parameters = template["Parameters"]

    assert referenced_id(route_settings["ThrottlingRateLimit"]) == "ApiThrottlingRateLimit"
    assert referenced_id(route_settings["ThrottlingBurstLimit"]) == "ApiThrottlingBurstLimit"
    assert parameters["ApiThrottlingRateLimit"]["MaxValue"] <= 10_000
    assert parameters["ApiThrottlingBurstLimit"]["MaxValue"] <= 5_000
