"""DynamoDB's attribute-value form, both ways, and the table's key layout in one place.

One table: pk/sk, GSI `byOwner` (gsi1pk/gsi1sk) lists a user's instances, TTL on `expiresAt`.
  INSTANCE#<id> / INSTANCE       the instance
  INSTANCE#<id> / EVENT#<uuid>   one event's delivery record (the event log)
  INSTANCE#<id> / BACKFILL       the instance's last backfill (store.backfills)
  TOKEN#<sha256> / TOKEN         instance token hash -> instance id
  COUNTER / INSTANCE             the last instance id handed out
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_plain(v)) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _native(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _native(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, set):
        return sorted(_native(v) for v in value)
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return bytes(value.value)
    return value


def instance_key(instance_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"INSTANCE#{instance_id}"}, "sk": {"S": "INSTANCE"}}


def event_key(instance_id: int, event_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"INSTANCE#{instance_id}"}, "sk": {"S": f"EVENT#{event_id}"}}


def backfill_key(instance_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"INSTANCE#{instance_id}"}, "sk": {"S": "BACKFILL"}}


def token_key(token_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"TOKEN#{token_hash}"}, "sk": {"S": "TOKEN"}}


def owner_keys(owner_id: int, instance_id: int) -> dict[str, str]:
    return {"gsi1pk": f"OWNER#{owner_id}", "gsi1sk": f"INSTANCE#{instance_id:012d}"}
