"""Topics to events (SPEC §5) checked on real Intercom notifications nobody on this team wrote.

The payloads live beside the repository, in ../shared/fixtures (see its SOURCES.md: captured by the
zulip project, API 1.x and 2.x). A clone without that folder skips these tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from intercom_events.intercom.topics import normalize
from intercom_events.models.events import EventType

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "intercom" / "webhooks"

C, U, D = EventType.CREATED, EventType.UPDATED, EventType.DELETED

# file -> (objectType, eventType, objectId), read off each payload and SPEC §5; None: no event.
EXPECTED: dict[str, tuple[str, EventType, str] | None] = {
    "admin_activity_log_event_created.json": (
        "admin_activity_logs",
        C,
        "f98f9a55-e125-4d4d-ad60-7cfc5f553cfc",
    ),
    "admin_added_to_workspace.json": ("admins", C, "1234568"),  # item.id is a number
    "admin_logged_in.json": ("admins", U, "1234567"),
    "api_request_completed.json": ("api_requests", C, "0003pno49p6cud9jh7fg"),  # item.request_id
    "article_created.json": ("articles", C, "15147019"),
    "article_deleted.json": ("articles", D, "15147051"),
    "company_contact_attached.json": ("companies", U, "6961d175205cf6a4438f0c21"),  # item.company.id
    "company_created.json": ("companies", C, "5c96b2c0d1c4c1a2d455b937"),
    "company_deleted.json": ("companies", D, "6961d38729675009a437c3bf"),
    "contact_created.json": ("contacts", C, "5c96b122177026171b401e20"),
    "contact_deleted.json": ("contacts", D, "696122fb2591e0cadd20073a"),
    "contact_lead_created.json": ("contacts", C, "6961d897719c606240178da8"),
    "contact_subscribed.json": ("contacts", U, "6961e1e6d1965062ce6434d1"),  # item.contact.id
    "contact_tag_created.json": ("contacts", U, "5c9553cb27e377f24eed49f7"),  # item.contact.id, not the tag
    "contact_user_created.json": ("contacts", C, "6961d4041c1e12de4c5499cc"),
    "contact_user_tag_created.json": ("contacts", U, "6961f1c19b981fb5a0b90afb"),
    "contacts_merged.json": ("contacts", U, "6961f1c19b981fb5a0b90afb"),
    "conversation_admin_replied.json": ("conversations", U, "21322009097"),
    # item.conversation is {parts, options, model}: the model's id, not the first part's
    "conversation_contact_attached.json": ("conversations", U, "215472621202693"),
    "conversation_deleted.json": ("conversations", D, "215472621305755"),  # item.conversation_id
    "conversation_part_redacted.json": ("conversations", U, "215472621202693"),
    "conversation_part_tag_created.json": ("conversations", U, "21330067382"),
    "conversation_priority_updated.json": ("conversations", U, "215472621202693"),
    "conversation_read.json": ("conversations", U, "215472621202693"),
    "conversation_user_created.json": ("conversations", C, "21321941764"),
    "event_created.json": ("events", C, "84ca8d44-8f2e-11e3-bbc6-6d72c14baf72"),
    "granular_subscribe.json": ("contacts", U, "6961cf78fb9d13be07871c78"),  # item.contact.id
    "ping.json": None,  # its id is null
    "ticket_admin_assigned.json": ("tickets", U, "215472629311235"),  # item.ticket.id, not the part
    "ticket_contact_attached.json": ("tickets", U, "215472629353977"),  # item.ticket.id, a number
    "ticket_created.json": ("tickets", C, "215472629311235"),
    "user_tag_created.json": ("contacts", U, "5c9aabdf2ddf20549a41453a"),  # item.user.id
    "visitor_signed_up.json": ("contacts", C, "6961e6de046e053d93e4da0b"),
}


def _shared_files() -> list[str]:
    return sorted(p.name for p in SHARED.glob("*.json")) if SHARED.is_dir() else []


@pytest.fixture(autouse=True)
def _needs_shared_fixtures() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"no shared fixtures at {SHARED}")


def test_every_shared_fixture_has_an_expectation() -> None:
    assert _shared_files() == sorted(EXPECTED)


@pytest.mark.parametrize("name", _shared_files() or sorted(EXPECTED))
def test_shared_fixture_normalizes_as_spec_section_5_says(name: str) -> None:
    notification = json.loads((SHARED / name).read_text())

    events = normalize(notification)

    expected = EXPECTED.get(name, ("<no expectation>", EventType.UNKNOWN, ""))
    if expected is None:
        assert events == []
        return
    assert [(e.objectType, e.eventType, e.objectId) for e in events] == [expected]
    # Every one of these carries created_at as Unix seconds.
    created = datetime.fromtimestamp(notification["created_at"], UTC)
    assert events[0].date == created.strftime("%Y-%m-%dT%H:%M:%SZ")
