"""Intercom webhook topics to normalized events (SPEC §5).

One notification names one object, so `normalize` returns one event, or none for `ping`. The table
below is SPEC §5 row by row; the first row whose topic test matches wins, so narrow rows come before
the prefixes that would also match them. Any topic not in the table still makes an UNKNOWN event:
Intercom adds topics faster than we add rows, and an integrator would rather see them than lose them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from dateutil import parser as date_parser

from ..dates import utc_iso
from ..models.events import EventType, NormalizedEvent

Item = Mapping[str, Any]


def iso_from_intercom(value: object) -> str | None:
    """An Intercom timestamp (Unix seconds, as number or numeric string, or ISO-8601) as `...T..:..:..Z`.

    None when the value is missing or unreadable. 0 is Intercom's "not set" (as in `delivered_at: 0`),
    so it counts as missing too. A timestamp without a zone is taken as UTC.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            text = value.strip()
            try:
                seconds = float(text)
            except ValueError:
                moment = _parse_iso(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                return utc_iso(moment)
        else:
            return None
        if seconds <= 0:
            return None
        return utc_iso(seconds)
    except (ValueError, OverflowError, OSError):
        return None


def _parse_iso(text: str) -> datetime:
    # isoparse is strict ISO-8601; parse also reads the near-ISO forms ("2019-03-22 21:29:47 +0000").
    try:
        return date_parser.isoparse(text)
    except ValueError:
        return date_parser.parse(text)


def _as_id(value: object) -> str | None:
    """An id as the string the callback carries: Intercom sends some ids as numbers (admins, tickets)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        return str(value)
    return None


def _dig(value: object, *path: str | int) -> object:
    """`value[p0][p1]...`, or None as soon as a step is missing or of the wrong kind."""
    for step in path:
        if isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, Sequence) and not isinstance(value, str):
            value = value[step] if -len(value) <= step < len(value) else None
        else:
            return None
    return value


def _first_id(*candidates: object) -> str | None:
    return next((found for found in map(_as_id, candidates) if found is not None), None)


def _nested_id(value: object) -> str | None:
    """The id of the first object, depth-first in key order, that has one (the unknown-topic rule)."""
    children: Sequence[object]
    if isinstance(value, Mapping):
        found = _as_id(value.get("id"))
        if found is not None:
            return found
        children = list(value.values())
    elif isinstance(value, list):
        children = value
    else:
        return None
    return next((found for found in map(_nested_id, children) if found is not None), None)


# --- id extractors: each takes `data.item` --------------------------------------------------------------


def _item_id(item: Item) -> str | None:
    return _as_id(item.get("id"))


def _wrapped_contact_id(item: Item) -> str | None:
    # Tag and subscription topics wrap the contact (2.x `contact`, 1.x `user`) next to a tag or
    # subscription list that has ids of its own; only when the item is the contact is item.id right.
    item_is_contact = item.get("type") in (None, "contact", "user", "lead")
    return _first_id(
        _dig(item, "contact", "id"), _dig(item, "user", "id"), item.get("id") if item_is_contact else None
    )


def _company_of_attachment(item: Item) -> str | None:
    return _first_id(_dig(item, "company", "id"), item.get("id") if item.get("type") == "company" else None)


def _deleted_conversation_id(item: Item) -> str | None:
    return _first_id(item.get("conversation_id"), item.get("id"))


def _attached_conversation_id(item: Item) -> str | None:
    # 2.x expands item.conversation as {parts, options, model}: the conversation is the model, and each
    # part names it as conversation_id (a part's own id is not the conversation's). Other versions send
    # {type: conversation, id}, a bare id, or the conversation itself as the item.
    conversation = item.get("conversation")
    return _first_id(
        _dig(conversation, "id"),
        _dig(conversation, "model", "id"),
        _dig(conversation, "parts", 0, "conversation_id"),
        conversation,
        item.get("conversation_id"),
        item.get("id") if item.get("type") == "conversation" else None,
    )


def _ticket_id(item: Item) -> str | None:
    # Ticket part and attachment topics wrap the ticket (item.ticket) next to a part or contact.
    return _first_id(_dig(item, "ticket", "id"), item.get("id"))


def _request_id(item: Item) -> str | None:
    return _as_id(item.get("request_id"))


# --- the table ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    object_type: str
    event_type: EventType
    object_id: Callable[[Item], str | None]
    topics: str  # exact topics and fnmatch patterns ("ticket.*"), space-separated

    def matches(self, topic: str) -> bool:
        return any(fnmatchcase(topic, pattern) for pattern in self.topics.split())


_C, _U, _D = EventType.CREATED, EventType.UPDATED, EventType.DELETED

# SPEC §5, in its order, except that a narrow row precedes the wider pattern that would also match it.
# The contact tag patterns say "starts with contact./user. and contains .tag." (contact.tag.created,
# contact.lead.tag.deleted, user.tag.created, ...).
# fmt: off
_ROWS: tuple[_Row, ...] = (
    _Row("contacts", _C, _item_id,
         "contact.user.created contact.lead.created contact.created user.created visitor.signed_up"),
    _Row("contacts", _U, _item_id,
         "contact.user.updated contact.lead.updated contact.lead.signed_up contact.signed_up"
         " contact.lead.added_email contact.added_email contact.email.updated user.email.updated"
         " contact.archived contact.unarchived contact.merged"),
    _Row("contacts", _U, _wrapped_contact_id,
         "contact.subscribed contact.unsubscribed user.unsubscribed granular.subscribe granular.unsubscribe"
         " contact.tag.* contact.*.tag.* user.tag.* user.*.tag.*"),
    _Row("contacts", _D, _item_id, "contact.deleted user.deleted"),
    _Row("companies", _C, _item_id, "company.created"),
    _Row("companies", _U, _item_id, "company.updated"),
    _Row("companies", _D, _item_id, "company.deleted"),
    _Row("companies", _U, _company_of_attachment, "company.contact.attached company.contact.detached"),
    _Row("conversations", _C, _item_id, "conversation.user.created conversation.admin.single.created"),
    _Row("conversations", _D, _deleted_conversation_id, "conversation.deleted"),
    _Row("conversations", _U, _attached_conversation_id,
         "conversation.contact.attached conversation.contact.detached"),
    _Row("conversations", _U, _item_id, "conversation.* conversation_part.*"),
    _Row("tickets", _C, _item_id, "ticket.created"),
    _Row("tickets", _U, _ticket_id, "ticket.*"),
    _Row("admin_activity_logs", _C, _item_id, "admin.activity_log_event.created"),  # before admin.*
    _Row("admins", _C, _item_id, "admin.added_to_workspace"),
    _Row("admins", _D, _item_id, "admin.removed_from_workspace"),
    _Row("admins", _U, _item_id, "admin.*"),
    _Row("articles", _C, _item_id, "article.created"),
    _Row("articles", _D, _item_id, "article.deleted"),
    _Row("articles", _U, _item_id, "article.updated article.published article.unpublished"),
    _Row("events", _C, _item_id, "event.created"),
    _Row("api_requests", _C, _request_id, "api.request.completed"),
    _Row("jobs", _U, _item_id, "job.completed"),
    _Row("content_stats", _C, _item_id, "content_stat.*"),
)
# fmt: on

# The object types the table names: the values `event.objects` is meant to list.
OBJECT_TYPES: frozenset[str] = frozenset(row.object_type for row in _ROWS)


def pluralise(word: str) -> str:
    """Simple English plurals, enough for Intercom's object names (company -> companies, box -> boxes)."""
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def normalize(notification: Mapping[str, Any]) -> list[NormalizedEvent]:
    """The normalized events of one Intercom webhook notification: none for `ping`, else exactly one."""
    topic = notification.get("topic")
    topic = topic if isinstance(topic, str) else ""
    if topic == "ping":
        return []
    item = _dig(notification, "data", "item")
    item = item if isinstance(item, Mapping) else {}

    row = next((row for row in _ROWS if row.matches(topic)), None)
    if row is not None:
        object_type, event_type, object_id = row.object_type, row.event_type, row.object_id(item)
    else:
        object_type = pluralise(topic.split(".", 1)[0] or "unknown")
        event_type, object_id = EventType.UNKNOWN, _nested_id(item)

    date = (
        iso_from_intercom(notification.get("created_at"))
        or iso_from_intercom(notification.get("first_sent_at"))
        or utc_iso(datetime.now(UTC))
    )
    return [
        NormalizedEvent(
            objectType=object_type,
            eventType=event_type,
            # Never empty-handed: the notification's own id still tells the integrator which one it was.
            objectId=object_id or _as_id(notification.get("id")) or "",
            date=date,
        )
    ]
