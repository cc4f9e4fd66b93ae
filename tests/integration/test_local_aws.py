"""The embedded AWS: a moto server with the template's resources, reachable with the functions' settings."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from local import aws as local_aws
from local.aws import LocalAws, MotoServer, create_resources


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    server = MotoServer().start()
    yield create_resources(server.endpoint_url)
    server.stop()


def test_the_table_is_made_as_declared(aws: LocalAws) -> None:
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=aws.table_name)["Table"]

    assert table["KeySchema"] == local_aws.TABLE_KEY_SCHEMA
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index["Projection"] for index in table["GlobalSecondaryIndexes"]}
    assert indexes == {
        "byOwner": {"ProjectionType": "ALL"},
        "byTime": {"ProjectionType": "ALL"},
        "byStatus": {"ProjectionType": "KEYS_ONLY"},
    }
    ttl = dynamodb.describe_time_to_live(TableName=aws.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")


def test_the_queue_sends_to_its_dead_letter_queue_after_nine_receives(aws: LocalAws) -> None:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": aws.dlq_arn, "maxReceiveCount": 9}
    assert attributes["VisibilityTimeout"] == "180"


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
