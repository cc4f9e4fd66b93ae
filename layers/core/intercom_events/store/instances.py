"""Instances, their tokens and their ids in DynamoDB; secrets sealed through `sealed`."""

from __future__ import annotations

from typing import Any

from ..config import settings
from ..models.instance import Instance, is_secret_key
from ..observability import tracer
from . import sealed
from .aws import client
from .items import COUNTER_KEY, from_item, instance_key, owner_keys, to_item, token_key


def _table() -> str:
    return settings().table_name


@tracer.capture_method(capture_response=False)
def next_id() -> int:
    answer = client("dynamodb").update_item(
        TableName=_table(),
        Key=COUNTER_KEY,
        UpdateExpression="ADD lastId :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["lastId"]["N"])


def _item(instance: Instance) -> dict[str, Any]:
    # By normalized name, so a secret under any spelling is sealed (the models make keys canonical).
    public = {k: v for k, v in instance.configuration.items() if not is_secret_key(k)}
    secrets = {k: v for k, v in instance.configuration.items() if is_secret_key(k) and v not in (None, "")}
    values: dict[str, Any] = {
        "id": instance.id,
        "ownerId": instance.owner_id,
        "ownerName": instance.owner_name,
        "name": instance.name,
        "tags": instance.tags,
        "disabled": instance.disabled,
        "deleted": instance.deleted,
        "configuration": public,
        "sealedSecrets": sealed.seal(instance.id, secrets) if secrets else None,
        "createdDate": instance.created_date,
        "updatedDate": instance.updated_date,
        "tokenHash": instance.token_hash,
    }
    if not instance.deleted:
        values |= owner_keys(instance.owner_id, instance.id)
    return {**instance_key(instance.id), **to_item(values)}


def _instance(item: dict[str, Any]) -> Instance:
    values = from_item(item)
    configuration = dict(values.get("configuration", {}))
    if values.get("sealedSecrets"):
        configuration |= sealed.unseal(values["id"], values["sealedSecrets"])
    return Instance(
        id=values["id"],
        owner_id=values["ownerId"],
        owner_name=values["ownerName"],
        name=values["name"],
        tags=values.get("tags", []),
        disabled=values.get("disabled", False),
        deleted=values.get("deleted", False),
        configuration=configuration,
        created_date=values["createdDate"],
        updated_date=values.get("updatedDate"),
        token_hash=values.get("tokenHash"),
    )


@tracer.capture_method(capture_response=False)
def create(instance: Instance, token_hash: str) -> None:
    """The instance and its token hash land together or not at all."""
    client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": _table(),
                    "Item": _item(instance),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": _table(),
                    "Item": {**token_key(token_hash), **to_item({"instanceId": instance.id})},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )


@tracer.capture_method(capture_response=False)
def save(instance: Instance) -> None:
    client("dynamodb").put_item(TableName=_table(), Item=_item(instance))


@tracer.capture_method(capture_response=False)
def get(instance_id: int) -> Instance | None:
    answer = client("dynamodb").get_item(TableName=_table(), Key=instance_key(instance_id))
    return _instance(answer["Item"]) if "Item" in answer else None


@tracer.capture_method(capture_response=False)
def list_owned(owner_id: int) -> list[Instance]:
    pages = (
        client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=_table(),
            IndexName="byOwner",
            KeyConditionExpression="gsi1pk = :owner",
            ExpressionAttributeValues={":owner": {"S": f"OWNER#{owner_id}"}},
        )
    )
    return [_instance(item) for page in pages for item in page["Items"]]


@tracer.capture_method(capture_response=False)
def instance_for_token(token_hash: str) -> int | None:
    answer = client("dynamodb").get_item(TableName=_table(), Key=token_key(token_hash))
    return int(answer["Item"]["instanceId"]["N"]) if "Item" in answer else None


@tracer.capture_method(capture_response=False)
def delete_token(token_hash: str) -> None:
    client("dynamodb").delete_item(TableName=_table(), Key=token_key(token_hash))


@tracer.capture_method(capture_response=False)
def turn_events_off(instance_id: int) -> None:
    """One attribute of the configuration map, so a concurrent change to others is not undone."""
    client("dynamodb").update_item(
        TableName=_table(),
        Key=instance_key(instance_id),
        UpdateExpression="SET configuration.#enabled = :off",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#enabled": "event.notification.enabled"},
        ExpressionAttributeValues={":off": {"BOOL": False}},
    )


@tracer.capture_method(capture_response=False)
def reachable() -> bool:
    """For /health: one cheap read proves the table and the role's access."""
    client("dynamodb").get_item(TableName=_table(), Key=COUNTER_KEY)
    return True
