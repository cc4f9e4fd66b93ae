"""DynamoDB's attribute-value form, both ways, and the table's key layout in one place.

One table: pk/sk, TTL on `expiresAt`; GSI `byOwner` (gsi1pk/gsi1sk = OWNER#<user>) lists a user's
instances, `byTime` (gsi2, EVENTS#<id>) the event log in enqueue order, and the sparse `byStatus` (gsi3,
REPLAY#<id>) the failed and queued events a bulk retry takes (store.deliveries).
  INSTANCE#<id> / INSTANCE                    the instance (store.instances)
  INSTANCE#<id> / EVENT#<uuid>                one event's delivery record, the event log (store.deliveries)
  INSTANCE#<id> / JOB#<uuid>                  legacy: a job kept apart (now on EVENT#, store.deliveries)
  INSTANCE#<id> / DELIVERY#STATE              the instance's deliveries suspended, and by which event
  INSTANCE#<id> / DELIVERY#PACE               the rate limit's next free callback slot (store.pacing)
  INSTANCE#<id> / CURSOR#<resource>           a resource's poll window and resume point (store.cursors)
  INSTANCE#<id> / SEEN#<resource>#<record>    the version a poll last sent of a record (TTL)
  INSTANCE#<id> / BACKFILL#<run>#SEEN#<resource>#<record>   the same, for one backfill (TTL)
  INSTANCE#<id> / POLL#LOCK, BACKFILL#LOCK    the leases of a poll and of a backfill run
  INSTANCE#<id> / POLL#STATUS                 the last poll's outcome, the run of failures, pollingSince
  INSTANCE#<id> / BACKFILL                    the instance's last backfill (store.backfills)
  TOKEN#<sha256> / TOKEN                      instance token hash -> instance id
  COUNTER / INSTANCE                          the last instance id handed out
"""

from __future__ import annotations

import hashlib
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


MAX_ID_IN_KEY = 200  # longer record ids (a custom idField) are hashed to stay well under the 1 KB sort key
POLL_LOCK = "POLL#LOCK"
BACKFILL_LOCK = "BACKFILL#LOCK"


def _instance_part(instance_id: int, sk: str) -> dict[str, Any]:
    return {"pk": {"S": f"INSTANCE#{instance_id}"}, "sk": {"S": sk}}


def instance_key(instance_id: int) -> dict[str, Any]:
    return _instance_part(instance_id, "INSTANCE")


def event_key(instance_id: int, event_id: str) -> dict[str, Any]:
    return _instance_part(instance_id, f"EVENT#{event_id}")


def event_log_partition(instance_id: int) -> str:
    """gsi2pk of an instance's event log, read in enqueue order."""
    return f"EVENTS#{instance_id}"


def replay_partition(instance_id: int) -> str:
    """gsi3pk of an instance's failed and queued events (a sparse index for a bulk retry)."""
    return f"REPLAY#{instance_id}"


def job_key(instance_id: int, event_id: str) -> dict[str, Any]:
    """The job of an event logged before jobs went on the event item, read only (store.deliveries)."""
    return _instance_part(instance_id, f"JOB#{event_id}")


def delivery_state_key(instance_id: int) -> dict[str, Any]:
    return _instance_part(instance_id, "DELIVERY#STATE")


def pace_key(instance_id: int) -> dict[str, Any]:
    return _instance_part(instance_id, "DELIVERY#PACE")


def cursor_key(instance_id: int, resource: str) -> dict[str, Any]:
    return _instance_part(instance_id, f"CURSOR#{resource}")


def seen_scope(resource: str) -> str:
    """Where scheduled polls keep the versions they sent of `resource`'s records."""
    return f"SEEN#{resource}"


def backfill_scope(run_id: str, resource: str) -> str:
    """Where one backfill keeps what it sent: apart from the scheduled polls', which it never touches."""
    return f"BACKFILL#{run_id}#SEEN#{resource}"


def seen_key(instance_id: int, scope: str, record_id: str) -> dict[str, Any]:
    if len(record_id) > MAX_ID_IN_KEY:
        record_id = "sha256:" + hashlib.sha256(record_id.encode()).hexdigest()
    return _instance_part(instance_id, f"{scope}#{record_id}")


def lock_key(instance_id: int, lock: str) -> dict[str, Any]:
    return _instance_part(instance_id, lock)


def poll_status_key(instance_id: int) -> dict[str, Any]:
    return _instance_part(instance_id, "POLL#STATUS")


def backfill_key(instance_id: int) -> dict[str, Any]:
    return _instance_part(instance_id, "BACKFILL")


COUNTER_KEY = {"pk": {"S": "COUNTER"}, "sk": {"S": "INSTANCE"}}


def token_key(token_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"TOKEN#{token_hash}"}, "sk": {"S": "TOKEN"}}


def owner_keys(owner_id: int, instance_id: int) -> dict[str, str]:
    return {"gsi1pk": f"OWNER#{owner_id}", "gsi1sk": f"INSTANCE#{instance_id:012d}"}
