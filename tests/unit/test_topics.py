"""Intercom notifications to normalized events (SPEC §5), on the project's own fixtures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from intercom_events.intercom.topics import OBJECT_TYPES, iso_from_intercom, normalize, pluralise
from intercom_events.models.events import EventType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"

C, U, D, X = EventType.CREATED, EventType.UPDATED, EventType.DELETED, EventType.UNKNOWN

# file -> (objectType, eventType, objectId, date); None for a notification that makes no event.
# A file is named after its topic, with "__<variant>" when one topic has several shapes.
EXPECTED: dict[str, tuple[str, EventType, str, str] | None] = {
    # contacts CREATED: 2.x contact, 1.x lead and user (ISO, numeric-string and 'Z' timestamps)
    "contact.user.created.json": ("contacts", C, "6a1f00c0aa01b2c3d4e5f601", "2026-11-27T10:00:00Z"),
    "contact.lead.created.json": ("contacts", C, "5c94d59b3f1a2b000a1b2c3d", "2019-03-22T21:29:47Z"),
    "user.created.json": ("contacts", C, "5c95a1b2c3d4e5f601234567", "2019-03-22T21:29:47Z"),
    "visitor.signed_up.json": ("contacts", C, "6a1f00c0aa01b2c3d4e5f602", "2026-11-27T10:00:00Z"),
    # contacts UPDATED, item is the contact (an offset converted to UTC; created_at missing -> first_sent_at)
    "contact.lead.signed_up.json": ("contacts", U, "6a1f00c0aa01b2c3d4e5f603", "2026-11-27T10:00:01Z"),
    "user.email.updated.json": ("contacts", U, "5c95a1b2c3d4e5f601234568", "2019-03-22T22:29:47Z"),
    "contact.merged.json": ("contacts", U, "6a1f00c0aa01b2c3d4e5f604", "2026-11-27T10:00:05Z"),
    # contacts UPDATED, the contact wrapped next to a tag or subscription that has an id of its own
    "contact.subscribed.json": ("contacts", U, "6a1f00c0aa01b2c3d4e5f605", "2026-11-27T10:00:10Z"),
    "user.unsubscribed.json": ("contacts", U, "5c95a1b2c3d4e5f601234569", "2019-03-23T00:13:20Z"),
    "granular.unsubscribe.json": ("contacts", U, "6a1f00c0aa01b2c3d4e5f606", "2026-11-27T10:00:11Z"),
    "contact.tag.created.json": ("contacts", U, "6a1f00c0aa01b2c3d4e5f607", "2026-11-27T10:00:12Z"),
    "contact.lead.tag.deleted.json": ("contacts", U, "5c94d59b3f1a2b000a1b2c3e", "2019-03-22T21:31:40Z"),
    "user.tag.deleted.json": ("contacts", U, "5c95a1b2c3d4e5f60123456a", "2019-03-22T21:33:20Z"),
    "contact.deleted.json": ("contacts", D, "6a1f00c0aa01b2c3d4e5f608", "2026-11-27T10:00:20Z"),
    "user.deleted.json": ("contacts", D, "5c95a1b2c3d4e5f60123456b", "2019-03-22T21:35:00Z"),
    # companies (a fractional Unix time is cut to the second)
    "company.created.json": ("companies", C, "5c96b2c0d1c4c1a2d455b999", "2019-03-23T22:27:12Z"),
    "company.updated.json": ("companies", U, "6a1f00c0aa01b2c3d4e5f609", "2026-11-27T10:00:00Z"),
    "company.deleted.json": ("companies", D, "6a1f00c0aa01b2c3d4e5f60a", "2026-11-27T10:00:30Z"),
    "company.contact.detached.json": ("companies", U, "6a1f00c0aa01b2c3d4e5f60c", "2026-11-27T10:00:40Z"),
    # conversations (numeric ids become strings)
    "conversation.user.created.json": ("conversations", C, "21321941799", "2019-03-22T21:29:58Z"),
    "conversation.admin.single.created.json": ("conversations", C, "215472621200001", "2026-11-27T10:00:50Z"),
    "conversation.deleted.json": ("conversations", D, "215472621305799", "2026-11-27T10:01:00Z"),
    "conversation.deleted__item_id.json": ("conversations", D, "215472621305800", "2026-11-27T10:01:01Z"),
    "conversation.contact.attached.json": ("conversations", U, "215472621202799", "2026-11-27T10:01:00Z"),
    "conversation.contact.detached__conversation_object.json": (
        "conversations",
        U,
        "215472621202800",
        "2026-11-27T10:01:10Z",
    ),
    "conversation.contact.attached__item_is_conversation.json": (
        "conversations",
        U,
        "215472621202801",
        "2026-11-27T10:01:20Z",
    ),
    "conversation.admin.replied.json": ("conversations", U, "21322009100", "2019-03-22T21:45:12Z"),
    "conversation_part.redacted.json": ("conversations", U, "215472621202693", "2026-11-27T10:01:30Z"),
    "conversation.read.json": ("conversations", U, "215472621202694", "2026-11-27T10:01:35Z"),
    # tickets: the item is the ticket, or wraps it next to a part or a contact
    "ticket.created.json": ("tickets", C, "215472629311299", "2026-11-27T10:01:40Z"),
    "ticket.admin.assigned.json": ("tickets", U, "215472629311299", "2026-11-27T10:01:50Z"),
    "ticket.contact.attached.json": ("tickets", U, "215472629353999", "2026-11-27T10:02:00Z"),
    "ticket.state.updated.json": ("tickets", U, "215472629311300", "2026-11-27T10:02:10Z"),
    # admins and their activity log
    "admin.added_to_workspace.json": ("admins", C, "1234599", "2026-11-27T10:02:20Z"),
    "admin.removed_from_workspace.json": ("admins", D, "1234600", "2026-11-27T10:02:21Z"),
    "admin.away_mode_updated.json": ("admins", U, "1234567", "2026-11-27T10:02:22Z"),
    "admin.activity_log_event.created.json": (
        "admin_activity_logs",
        C,
        "0b8d5a2e-6f4c-4b7a-9d51-3f1e2c7a9b10",
        "2026-11-27T10:02:23Z",
    ),
    # articles, events, API requests, jobs, content stats
    "article.created.json": ("articles", C, "15147099", "2026-11-27T10:02:30Z"),
    "article.published.json": ("articles", U, "15147100", "2026-11-27T10:02:40Z"),
    "article.deleted.json": ("articles", D, "15147101", "2026-11-27T10:02:50Z"),
    "event.created.json": ("events", C, "84ca8d44-8f2e-11e3-bbc6-6d72c14baf99", "2019-03-26T23:17:08Z"),
    "api.request.completed.json": ("api_requests", C, "0003pno49p6cud9jh999", "2026-11-27T10:03:00Z"),
    "job.completed.json": ("jobs", U, "job_v1_8f2c", "2026-11-27T10:03:10Z"),
    "content_stat.email.json": ("content_stats", C, "cs_3001", "2026-11-27T10:03:20Z"),
    # unknown topics: depth-first nested id; an id-less item falls back to the notification id,
    # an unreadable created_at to first_sent_at
    "segment.member.added.json": ("segments", X, "match-7", "2026-11-27T10:03:30Z"),
    "activity.logged.json": ("activities", X, "77", "2026-11-27T10:03:40Z"),
    "batch.finished.json": (
        "batches",
        X,
        "notif_0048aaaa-0000-4000-8000-000000000048",
        "2026-11-27T10:03:50Z",
    ),
    "ping.json": None,
}


def _load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def _notification(topic: str, item: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {
        "type": "notification_event",
        "id": "notif_test",
        "topic": topic,
        "created_at": 1795773600,
        "data": {"type": "notification_event_data", "item": item},
        **envelope,
    }


def test_every_fixture_has_an_expectation_and_every_expectation_a_fixture() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_named_after_its_topic(name: str) -> None:
    assert _load(name)["topic"] == name.removesuffix(".json").split("__")[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_normalizes_as_spec_section_5_says(name: str) -> None:
    events = normalize(_load(name))

    expected = EXPECTED[name]
    if expected is None:
        assert events == []
        return
    assert len(events) == 1
    event = events[0]
    assert (event.objectType, event.eventType, event.objectId, event.date) == expected
    assert (event.elementKey, event.hubKey, event.pollDate) == ("intercom", "marketing", None)


# Every topic the SPEC table names (and a few real ones its patterns cover), by the row it must land on.
SPEC_ROWS: list[tuple[str, EventType, str]] = [
    (
        "contacts",
        C,
        "contact.user.created contact.lead.created contact.created user.created visitor.signed_up",
    ),
    (
        "contacts",
        U,
        "contact.user.updated contact.lead.updated contact.lead.signed_up contact.signed_up"
        " contact.lead.added_email contact.added_email contact.email.updated user.email.updated"
        " contact.archived contact.unarchived contact.merged",
    ),
    (
        "contacts",
        U,
        "contact.subscribed contact.unsubscribed user.unsubscribed granular.subscribe granular.unsubscribe"
        " contact.user.tag.created contact.user.tag.deleted contact.lead.tag.created contact.lead.tag.deleted"
        " contact.tag.created contact.tag.deleted user.tag.created user.tag.deleted",
    ),
    ("contacts", D, "contact.deleted user.deleted"),
    ("companies", C, "company.created"),
    ("companies", U, "company.updated company.contact.attached company.contact.detached"),
    ("companies", D, "company.deleted"),
    ("conversations", C, "conversation.user.created conversation.admin.single.created"),
    ("conversations", D, "conversation.deleted"),
    (
        "conversations",
        U,
        "conversation.contact.attached conversation.contact.detached conversation.user.replied"
        " conversation.admin.replied conversation.admin.closed conversation.admin.snoozed"
        " conversation.priority.updated conversation.rating.added conversation.read"
        " conversation_part.redacted conversation_part.tag.created",
    ),
    ("tickets", C, "ticket.created"),
    ("tickets", U, "ticket.admin.assigned ticket.contact.attached ticket.state.updated ticket.note.created"),
    ("admins", C, "admin.added_to_workspace"),
    ("admins", D, "admin.removed_from_workspace"),
    ("admins", U, "admin.logged_in admin.logged_out admin.away_mode_updated admin.assignee_changed"),
    ("admin_activity_logs", C, "admin.activity_log_event.created"),
    ("articles", C, "article.created"),
    ("articles", D, "article.deleted"),
    ("articles", U, "article.updated article.published article.unpublished"),
    ("events", C, "event.created"),
    ("api_requests", C, "api.request.completed"),
    ("jobs", U, "job.completed"),
    ("content_stats", C, "content_stat.email content_stat.series content_stat.survey"),
]
SPEC_TOPICS = {
    topic: (object_type, event_type)
    for object_type, event_type, topics in SPEC_ROWS
    for topic in topics.split()
}


@pytest.mark.parametrize(("topic", "row"), sorted(SPEC_TOPICS.items()))
def test_every_spec_topic_lands_on_its_row(topic: str, row: tuple[str, EventType]) -> None:
    (event,) = normalize(_notification(topic, {"type": "thing", "id": "1", "request_id": "1"}))
    assert (event.objectType, event.eventType) == row


def test_object_types_are_the_spec_tables_plural_names() -> None:
    assert {
        "contacts",
        "companies",
        "conversations",
        "tickets",
        "admins",
        "admin_activity_logs",
        "articles",
        "events",
        "api_requests",
        "jobs",
        "content_stats",
    } == OBJECT_TYPES


@pytest.mark.parametrize(
    ("topic", "object_type"),
    [
        ("segment.member.added", "segments"),
        ("company_story.published", "company_stories"),
        ("survey.completed", "surveys"),
        ("key.rotated", "keys"),
        ("status.changed", "statuses"),
        ("box.opened", "boxes"),
        ("batch.done", "batches"),
        ("wish.granted", "wishes"),
        ("visitor.converted", "visitors"),
        ("contact.replied", "contacts"),
        ("user.role.updated", "users"),
        ("conversationx.made_up", "conversationxes"),
    ],
)
def test_an_unknown_topic_is_its_first_segment_pluralised_and_unknown(topic: str, object_type: str) -> None:
    (event,) = normalize(_notification(topic, {"type": "thing", "id": "t1"}))
    assert (event.objectType, event.eventType, event.objectId) == (object_type, EventType.UNKNOWN, "t1")


@pytest.mark.parametrize(
    ("word", "plural"),
    [
        ("company", "companies"),
        ("day", "days"),
        ("y", "ys"),
        ("bus", "buses"),
        ("tax", "taxes"),
        ("match", "matches"),
        ("flash", "flashes"),
        ("ticket", "tickets"),
    ],
)
def test_pluralise_follows_simple_english(word: str, plural: str) -> None:
    assert pluralise(word) == plural


def test_an_unknown_topic_takes_the_first_nested_id_depth_first_in_key_order() -> None:
    item = {"meta": {"inner": [{"no": "id"}, {"id": 5}]}, "owner": {"id": "later"}}
    (event,) = normalize(_notification("widget.spun", item))
    assert event.objectId == "5"


def test_an_empty_topic_still_makes_an_unknown_event() -> None:
    (event,) = normalize(_notification("", {"id": "x"}))
    assert (event.objectType, event.eventType, event.objectId) == ("unknowns", EventType.UNKNOWN, "x")


def test_a_known_topic_without_its_id_falls_back_to_the_notification_id() -> None:
    (event,) = normalize(_notification("contact.tag.created", {"type": "contact_tag", "tag": {"id": "9"}}))
    assert event.objectId == "notif_test"


def test_a_notification_without_any_id_still_gives_a_string_object_id() -> None:
    notification = _notification("batch.done", {"type": "batch"})
    notification["id"] = None
    (event,) = normalize(notification)
    assert event.objectId == ""


@pytest.mark.parametrize(
    ("item", "object_id"),
    [
        ({"conversation": {"type": "conversation", "id": 42}}, "42"),
        ({"conversation": "43"}, "43"),
        ({"conversation": {"model": {"id": 44}, "parts": [{"id": 1, "conversation_id": 44}]}}, "44"),
        ({"conversation": {"parts": [{"id": 1, "conversation_id": 45}]}}, "45"),
        ({"contact": {"id": "c"}, "conversation_id": "46"}, "46"),
        ({"type": "conversation", "id": "47"}, "47"),
    ],
)
def test_conversation_contact_topics_find_the_conversation_in_every_shape(
    item: dict[str, Any], object_id: str
) -> None:
    (event,) = normalize(_notification("conversation.contact.detached", item))
    assert event.objectId == object_id


@pytest.mark.parametrize(
    ("item", "object_id"),
    [
        ({"type": "user", "id": "u1"}, "u1"),
        ({"type": "lead", "id": "l1"}, "l1"),
        ({"type": "contact", "id": "c1"}, "c1"),
        ({"type": "contact_tag", "tag": {"id": "t"}, "contact": {"id": "c2"}}, "c2"),
        ({"type": "user_tag", "tag": {"id": "t"}, "user": {"id": "u2"}}, "u2"),
    ],
)
def test_contact_tag_topics_take_the_contact_never_the_tag(item: dict[str, Any], object_id: str) -> None:
    (event,) = normalize(_notification("user.tag.created", item))
    assert event.objectId == object_id


@pytest.mark.parametrize("raw_id", [1234567, "1234567"])
def test_object_id_is_always_a_string(raw_id: int | str) -> None:
    (event,) = normalize(_notification("admin.logged_in", {"type": "admin", "id": raw_id}))
    assert event.objectId == "1234567"
    assert isinstance(event.objectId, str)


@pytest.mark.parametrize(
    ("created_at", "date"),
    [
        (1795773600, "2026-11-27T10:00:00Z"),
        (1795773600.999, "2026-11-27T10:00:00Z"),
        ("1795773600", "2026-11-27T10:00:00Z"),
        (" 1795773600 ", "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00.980Z", "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00.980+00:00", "2026-11-27T10:00:00Z"),
        ("2026-11-27T11:00:00+01:00", "2026-11-27T10:00:00Z"),
        ("2026-11-27T05:00:00-0500", "2026-11-27T10:00:00Z"),
        ("2026-11-27T10:00:00", "2026-11-27T10:00:00Z"),
        ("2026-11-27 10:00:00 +0000", "2026-11-27T10:00:00Z"),
    ],
)
def test_created_at_in_every_form_becomes_utc_to_the_second(created_at: object, date: str) -> None:
    (event,) = normalize(_notification("contact.created", {"id": "c"}, created_at=created_at))
    assert event.date == date


@pytest.mark.parametrize("created_at", [None, "", "not a date", 0, True, {"at": 1}, float("inf")])
def test_a_missing_or_unreadable_created_at_falls_back_to_first_sent_at(created_at: object) -> None:
    notification = _notification(
        "contact.created", {"id": "c"}, created_at=created_at, first_sent_at="2026-11-27T10:00:07.5Z"
    )
    (event,) = normalize(notification)
    assert event.date == "2026-11-27T10:00:07Z"


def test_without_any_timestamp_the_date_is_now() -> None:
    notification = _notification("contact.created", {"id": "c"})
    del notification["created_at"]
    before = datetime.now(UTC).replace(microsecond=0)

    (event,) = normalize(notification)

    after = datetime.now(UTC)
    assert event.date.endswith("Z")
    assert before <= datetime.fromisoformat(event.date) <= after


@pytest.mark.parametrize("value", [None, "", "soon", 0, -5, False, [], "1e400"])
def test_iso_utc_says_none_for_what_is_not_a_time(value: object) -> None:
    assert iso_from_intercom(value) is None


def test_ping_makes_no_event() -> None:
    assert normalize({"type": "notification_event", "topic": "ping", "id": None, "data": {"item": {}}}) == []


def test_a_notification_without_data_still_makes_one_event() -> None:
    (event,) = normalize({"type": "notification_event", "topic": "contact.created", "id": "n1"})
    assert (event.objectType, event.eventType, event.objectId) == ("contacts", EventType.CREATED, "n1")
