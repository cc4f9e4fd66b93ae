"""The API's answers that no other model module owns (the instance's is models.instance.InstanceAnswer,
a backfill's models.backfill.BackfillStatus), and the error body every route shares."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from .base import Model
from .events import DeliveryStatus, EventSource

IntakeOutcome = Literal["accepted", "ping", "dropped", "filtered"]


class Answer(Model):
    """An answer that leaves out what it does not know (a None field, nested ones too) rather than
    sending null, as Open Connectors does. Powertools serializes route answers with exclude_none off;
    this turns it on for the whole answer (pydantic has no model setting for it)."""

    # No return annotation: pydantic then documents the answer by its fields (`-> Any` would say nothing).
    @model_serializer(mode="wrap")
    def _without_none(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):
        if info.exclude_none:
            return handler(self)
        return self.model_dump(mode=info.mode, by_alias=info.by_alias, exclude_none=True)


class FieldError(Model):
    field: str = Field(description="the field, dotted below the body, query or path (`body` for all)")
    message: str


class ErrorAnswer(Answer):
    """Every error the API answers, 4xx and 5xx alike."""

    message: str
    requestId: str = Field(description="API Gateway's id of the request, to quote when asking about it")
    errors: list[FieldError] | None = Field(None, description="each bad field, when the request had some")


class HealthAnswer(Model):
    status: Literal["ok"]


class OAuthUrlAnswer(Model):
    element: Literal["intercom"]
    oauthUrl: str = Field(description="Intercom's consent page; its code goes in the create body")


class InstanceDeletedAnswer(Model):
    id: int
    deleted: Literal[True]


class PollScheduledAnswer(Model):
    instanceId: int
    status: Literal["scheduled"] = Field(description="a poll starts within a minute")


class EventLogEntry(Answer):
    """One event of the instance's log (kept 30 days), newest first in the list."""

    eventId: str = Field(description="the callback's id: the same on every retry and replay")
    status: DeliveryStatus
    attempts: int | None = None
    source: EventSource | None = None
    objectTypes: list[str] | None = None
    lastResponseCode: int | None = Field(None, description="the receiver's last HTTP status")
    lastError: str | None = None
    createdDate: str | None = None
    updatedDate: str | None = None
    deliveredDate: str | None = None


class EventAttempt(Answer):
    """One try at the callback, as Svix shows a message's attempts."""

    attempt: int = Field(description="which try: the event's attempts count when it was made")
    date: str = Field(description="ISO-8601: when the callback was sent")
    durationMs: int = Field(description="from sending the callback to the end of the answer or the failure")
    responseCode: int | None = Field(None, description="the receiver's HTTP status; absent with no answer")
    error: str | None = Field(None, description="why the attempt failed: no answer, or a status not 2xx")
    responseBody: str | None = Field(
        None, description="the answer's first characters (at most 256), UTF-8 with replacement"
    )


class SentCallback(Model):
    url: str | None = Field(None, description="the callback URL as configured")
    body: dict[str, Any] = Field(description="the callback body as it is sent (SPEC §6)")


class EventDetail(EventLogEntry):
    """One event of the log, with its callback and its last attempts, oldest first."""

    callback: SentCallback | None = Field(None, description="absent once the event's job is no longer kept")
    attemptLog: list[EventAttempt]


class EventsRetriedAnswer(Model):
    instanceId: int
    retried: int = Field(description="failed or queued events sent again")
    resumed: bool = Field(description="whether deliveries had been suspended, and are no longer")


class EventRetriedAnswer(Model):
    instanceId: int
    eventId: str
    status: Literal["pending"]


class WebhookAnswer(Model):
    """Intercom's notification taken: queued for the callback, or why not (a ping, events off for the
    instance, or no event of the objects it watches)."""

    status: IntakeOutcome
    events: int = Field(description="events queued for the callback")
