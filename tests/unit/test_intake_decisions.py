"""What webhook intake decides for a notification (logic.intake.accept), with the instance store and the
queue replaced by in-memory fakes: no AWS, no network.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from intercom_events.errors import NotFound, Unauthorized
from intercom_events.intercom.signature import hub_signature
from intercom_events.logic import intake
from intercom_events.models.events import CallbackJob
from intercom_events.models.instance import Instance

from tests.conftest import load_event

CLIENT_SECRET = "sample-client-secret"
ENCODED = base64.b64encode(b"410").decode()  # "NDEw", the seed's instance 410
CONFIGURATION = {
    "authentication.type": "oauth2",
    "oauth.api.key": "sample-client-id",
    "oauth.api.secret": CLIENT_SECRET,
    "event.notification.enabled": True,
    "event.vendor.type": "webhook",
    "event.notification.callback.url": "https://app.example.com/intercom-events",
    "event.objects": "contacts,conversations",
}


def notification(name: str = "webhook_contact_created.json") -> bytes:
    return load_event(f"api/{name}")["body"].encode()


class Fakes:
    """The instance as the store would give it, and the jobs the queue was handed."""

    def __init__(self) -> None:
        self.instance = Instance(
            id=410,
            owner_id=1,
            owner_name="developer",
            name="Webhooks",
            tags=[],
            configuration=dict(CONFIGURATION),
            created_date="2026-11-27T10:00:00Z",
        )
        self.sent: list[CallbackJob] = []

    def configure(self, **changes: Any) -> None:
        self.instance = self.instance.model_copy(update=changes)

    def load(self, instance_id: int) -> Instance:
        if instance_id != self.instance.id:
            raise NotFound("No instance for this webhook URL")
        return self.instance


@pytest.fixture
def fakes(base_env: None, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    fakes = Fakes()
    monkeypatch.setattr(intake.instances, "for_webhook", fakes.load)
    monkeypatch.setattr(intake.queue, "send", fakes.sent.extend)
    return fakes


def accept(body: bytes, sign: Callable[[bytes], str | None] = lambda b: hub_signature(b, CLIENT_SECRET)):
    return intake.accept(ENCODED, body, sign(body))


def test_a_signed_notification_of_a_watched_object_is_enqueued_with_its_events(fakes):
    result = accept(notification())

    assert result == intake.IntakeResult("accepted", events=1)
    [job] = fakes.sent
    assert job.instanceId == 410 and job.source == "webhook"
    assert job.intercomNotificationId == "notif_5f0c2a6e-0d0a-4d55-9a43-1d2b3c4d5e6f"
    assert [(e.objectType, e.eventType.value) for e in job.events] == [("contacts", "CREATED")]


def test_the_same_notification_resent_makes_the_same_event_id(fakes):
    accept(notification())
    accept(notification())
    assert fakes.sent[0].eventId == fakes.sent[1].eventId


@pytest.mark.parametrize(
    "sign",
    [
        lambda body: None,
        lambda body: hub_signature(body, "another-secret"),
        lambda body: hub_signature(body + b" ", CLIENT_SECRET),
    ],
    ids=["missing", "another secret", "another body"],
)
def test_a_notification_not_signed_with_the_instances_client_secret_is_refused(fakes, sign):
    with pytest.raises(Unauthorized):
        accept(notification(), sign)
    assert fakes.sent == []


@pytest.mark.parametrize(
    "changes",
    [
        {"disabled": True},
        {"configuration": {**CONFIGURATION, "event.notification.enabled": False}},
        {"configuration": {**CONFIGURATION, "event.vendor.type": "polling"}},
    ],
    ids=["disabled", "events off", "polling instance"],
)
def test_a_notification_for_an_instance_not_taking_webhooks_is_dropped(fakes, changes):
    fakes.configure(**changes)
    assert accept(notification()) == intake.IntakeResult("dropped")
    assert fakes.sent == []


def test_a_notification_for_an_object_outside_event_objects_is_filtered(fakes):
    fakes.configure(configuration={**CONFIGURATION, "event.objects": "conversations"})
    assert accept(notification()) == intake.IntakeResult("filtered")
    assert fakes.sent == []


def test_without_event_objects_every_object_is_watched(fakes):
    fakes.configure(configuration={k: v for k, v in CONFIGURATION.items() if k != "event.objects"})
    assert accept(notification()).outcome == "accepted"


def test_intercoms_ping_is_answered_and_enqueues_nothing(fakes):
    assert accept(notification("webhook_ping.json")) == intake.IntakeResult("ping")
    assert fakes.sent == []


def test_a_signed_body_that_is_not_a_notification_is_refused(fakes):
    with pytest.raises(intake.BadRequest):
        accept(json.dumps({"type": "something_else"}).encode())
    assert fakes.sent == []


def test_a_webhook_url_naming_no_instance_is_not_found(fakes):
    with pytest.raises(NotFound):
        intake.accept(base64.b64encode(b"411").decode(), notification(), None)
    with pytest.raises(NotFound):
        intake.accept("not-base64!", notification(), None)


def test_a_cached_instance_is_loaded_and_its_configuration_read_once_for_a_run_of_webhooks(
    fakes, monkeypatch
):
    from intercom_events import config
    from intercom_events.models import instance as model

    monkeypatch.setenv("INSTANCE_CACHE_SECONDS", "60")
    config.settings.cache_clear()
    loads, reads = [], []
    monkeypatch.setattr(intake.instances, "for_webhook", lambda i: loads.append(i) or fakes.load(i))
    parse = model.parse_config
    monkeypatch.setattr(model, "parse_config", lambda c, *a: reads.append(c) or parse(c, *a))

    intake.check_url(ENCODED)
    assert reads == []  # a URL check needs the instance, not its configuration
    for _ in range(3):
        assert accept(notification()).outcome == "accepted"
    # A change stored meanwhile is seen when the cache lets the instance go.
    fakes.configure(configuration={**CONFIGURATION, "event.notification.enabled": False})
    intake._instances.forget(410)
    assert accept(notification()).outcome == "dropped"

    assert loads == [410, 410] and len(reads) == 2
    assert len(fakes.sent) == 3
