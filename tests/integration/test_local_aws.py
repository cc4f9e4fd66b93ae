"""The embedded AWS: a moto server with the template's resources, reachable with the functions' settings."""

from __future__ import annotations

import json
from collections.abc import Iterator

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
