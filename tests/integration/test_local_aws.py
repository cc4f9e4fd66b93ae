"""The embedded AWS: a moto server with the template's resources, reachable with the functions' settings."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import template as cfn
from local.aws import LocalAws, MotoServer, create_resources


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    server = MotoServer().start()
    yield create_resources(server.endpoint_url)
    server.stop()


def properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return dict(template["Resources"][logical_id]["Properties"])


def as_set(items: list[dict[str, Any]]) -> set[tuple[tuple[str, Any], ...]]:
    return {tuple(sorted(item.items())) for item in items}


def test_the_table_is_made_as_the_template_declares_it(aws: LocalAws, template: dict[str, Any]) -> None:
    declared = properties(template, "Table")
    dynamodb = aws.client("dynamodb")

    table = dynamodb.describe_table(TableName=aws.table_name)["Table"]

    assert table["KeySchema"] == declared["KeySchema"]
    assert as_set(table["AttributeDefinitions"]) == as_set(declared["AttributeDefinitions"])
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    indexes = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {
        i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in declared["GlobalSecondaryIndexes"]
    }
    ttl = dynamodb.describe_time_to_live(TableName=aws.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == (
        "ENABLED",
        declared["TimeToLiveSpecification"]["AttributeName"],
    )


@pytest.mark.parametrize(
    ("logical_id", "url_field"),
    [
        ("CallbackQueue", "queue_url"),
        ("CallbackDeadLetterQueue", "dlq_url"),
        ("ScheduleDeadLetterQueue", "schedule_dlq_url"),
    ],
)
def test_each_queue_has_the_templates_timeouts_and_retention(
    aws: LocalAws, template: dict[str, Any], logical_id: str, url_field: str
) -> None:
    declared = properties(template, logical_id)

    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=getattr(aws, url_field), AttributeNames=["All"]
    )["Attributes"]

    assert attributes["MessageRetentionPeriod"] == str(declared["MessageRetentionPeriod"])
    assert attributes["VisibilityTimeout"] == str(declared.get("VisibilityTimeout", 30))


def test_the_callback_queue_sends_to_its_dead_letter_queue_after_the_templates_receives(
    aws: LocalAws, template: dict[str, Any]
) -> None:
    declared = properties(template, "CallbackQueue")["RedrivePolicy"]
    assert declared["deadLetterTargetArn"] == {"Fn::GetAtt": ["CallbackDeadLetterQueue", "Arn"]}

    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": aws.dlq_arn, "maxReceiveCount": declared["maxReceiveCount"]}


def test_the_bucket_and_the_schedule_group_exist_under_the_names_the_functions_get(aws: LocalAws) -> None:
    environment = aws.environment()

    aws.client("s3").head_bucket(Bucket=environment["BODY_BUCKET_NAME"])
    group = aws.client("scheduler").get_schedule_group(Name=environment["SCHEDULE_GROUP_NAME"])

    # The template's own name for the group, !Sub ${AWS::StackName}-polls, with the local stack's name.
    assert group["Name"] == f"{aws.stack_name}-polls"
    assert group["State"] == "ACTIVE"


def test_each_function_gets_the_names_of_the_resources_it_declares(aws: LocalAws) -> None:
    dispatcher = aws.resource_variables("dispatcher")
    api = aws.resource_variables("api")

    assert dispatcher["QUEUE_URL"] == api["QUEUE_URL"] == aws.queue_url
    assert api["SCHEDULE_DLQ_ARN"] == aws.schedule_dlq_arn
    assert "SCHEDULE_DLQ_ARN" not in dispatcher
    # Deployed only: locally ORGANIZATION_SECRET holds the secret itself.
    assert "ORGANIZATION_SECRET_ARN" not in api


def with_queue_property(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    """template.yaml as the local stack reads it, with one property of CallbackQueue changed."""
    changed = copy.deepcopy(cfn.load())
    changed["Resources"]["CallbackQueue"]["Properties"][name] = value
    monkeypatch.setattr(cfn, "load", lambda: changed)


def test_an_intrinsic_function_the_local_stack_does_not_know_fails_by_name(
    monkeypatch: pytest.MonkeyPatch, base_env: None
) -> None:
    with_queue_property(monkeypatch, "VisibilityTimeout", {"Fn::ImportValue": "shared-timeout"})

    with mock_aws(), pytest.raises(cfn.TemplateError, match="Fn::ImportValue"):
        create_resources(None)  # type: ignore[arg-type]  # no endpoint: moto intercepts


def test_a_reference_to_what_the_local_stack_does_not_make_fails_by_name(
    monkeypatch: pytest.MonkeyPatch, base_env: None
) -> None:
    with_queue_property(monkeypatch, "VisibilityTimeout", {"Fn::GetAtt": ["AlarmTopic", "TopicName"]})

    with mock_aws(), pytest.raises(cfn.TemplateError, match=r"!GetAtt AlarmTopic\.TopicName"):
        create_resources(None)  # type: ignore[arg-type]


def test_a_changed_template_changes_what_is_made(
    aws: LocalAws, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No copy of the template to keep in step: what it says now is what is made.
    changed = copy.deepcopy(template)
    changed["Resources"]["CallbackQueue"]["Properties"]["VisibilityTimeout"] = 77
    changed["Resources"]["CallbackQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 4
    monkeypatch.setattr(cfn, "load", lambda: changed)

    other = create_resources(aws.endpoint_url)

    attributes = other.client("sqs").get_queue_attributes(QueueUrl=other.queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "77"
    assert json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 4


def test_the_key_encrypts_and_decrypts(aws: LocalAws) -> None:
    kms = aws.client("kms")

    sealed = kms.encrypt(KeyId=aws.kms_key_id, Plaintext=b"client secret")["CiphertextBlob"]

    assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"client secret"


def test_the_environment_reaches_the_resources(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = aws.environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    # boto3 reads AWS_ENDPOINT_URL itself, as the functions' clients do.
    table = boto3.session.Session().client("dynamodb").describe_table(TableName=environment["TABLE_NAME"])

    assert environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environment["QUEUE_URL"] == aws.queue_url
    assert environment["KMS_KEY_ID"] == aws.kms_key_id
    assert table["Table"]["TableName"] == aws.table_name


def test_resources_made_twice_in_one_process_do_not_collide(aws: LocalAws) -> None:
    other = create_resources(aws.endpoint_url)

    assert other.table_name != aws.table_name
    assert other.queue_url != aws.queue_url


def conditional_race(
    aws: LocalAws, write: Callable[[Any, str], None], contenders: int, trials: int
) -> list[int]:
    """For each trial, `contenders` threads make the same conditional write on a new key at once;
    how many of them succeeded, trial by trial."""
    clients = [aws.client("dynamodb") for _ in range(contenders)]

    def contend(dynamodb: Any, key: str, start: threading.Barrier, won: list[Any]) -> None:
        start.wait()
        try:
            write(dynamodb, key)
            won.append(dynamodb)
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    winners = []
    for _ in range(trials):
        key, start, won = f"race-{uuid.uuid4().hex}", threading.Barrier(contenders), []
        threads = [threading.Thread(target=contend, args=(c, key, start, won)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners.append(len(won))
    return winners


def test_a_conditional_update_made_at_once_by_many_has_one_winner(aws: LocalAws) -> None:
    # The dispatcher's claim of an event (store/deliveries.py): one copy of a job claims it, the
    # copies in other batches see the condition fail and send nothing.
    def claim(dynamodb: Any, key: str) -> None:
        dynamodb.update_item(
            TableName=aws.table_name,
            Key={"pk": {"S": key}, "sk": {"S": "EVENT#e1"}},
            UpdateExpression=(
                "SET #status = if_not_exists(#status, :pending), leaseUntil = :lease, updatedDate = :now, "
                "createdDate = if_not_exists(createdDate, :now), eventId = :eventId, #source = :source, "
                "objectTypes = :types, gsi2pk = :events, gsi2sk = if_not_exists(gsi2sk, :order) "
                "ADD attempts :one"
            ),
            ConditionExpression=(
                "attribute_not_exists(pk) OR (#status <> :delivered AND #status <> :cancelled "
                "AND (attribute_not_exists(leaseUntil) OR leaseUntil < :epoch))"
            ),
            ExpressionAttributeNames={"#status": "status", "#source": "source"},
            ExpressionAttributeValues={
                ":pending": {"S": "pending"},
                ":delivered": {"S": "delivered"},
                ":cancelled": {"S": "cancelled"},
                ":lease": {"N": "2000000060"},
                ":epoch": {"N": "2000000000"},
                ":now": {"S": "2033-05-18T03:33:20Z"},
                ":eventId": {"S": "e1"},
                ":source": {"S": "webhook"},
                ":types": {"L": [{"S": "contacts"}]},
                ":events": {"S": "EVENTS#1"},
                ":order": {"S": "2033-05-18T03:33:20Z#e1"},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    assert conditional_race(aws, claim, contenders=3, trials=40) == [1] * 40


def test_a_long_poll_of_the_queue_holds_up_no_table_call(aws: LocalAws) -> None:
    polling = threading.Thread(
        target=aws.client("sqs").receive_message,
        kwargs={"QueueUrl": aws.dlq_url, "WaitTimeSeconds": 5},  # empty: the poll lasts 5 s
    )
    polling.start()
    try:
        aws.client("dynamodb").get_item(TableName=aws.table_name, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
        assert polling.is_alive()
    finally:
        polling.join()
