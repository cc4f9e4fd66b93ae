"""A backfill: a poll of the past asked for on purpose (`POST /instances/{id}/backfill`), and its state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from .base import Model

BackfillStatusName = Literal["running", "done", "failed", "cancelled"]


class BackfillBody(Model):
    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(
        description="ISO-8601: every record changed since then is sent once, in its current version; "
        "a date without a zone is UTC"
    )
    resources: list[str] | None = Field(
        None,
        max_length=20,
        description="object types to read again (names of event.poller.configuration); default: all the "
        "instance polls, narrowed by event.objects",
    )

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class BackfillStatus(Model):
    """The last backfill of an instance, as `GET /instances/{id}/backfill` answers it."""

    id: str = Field(description="the callbacks it sends carry it as message.backfill.id")
    status: BackfillStatusName
    since: str = Field(description="records changed since this date are sent")
    until: str = Field(description="and up to this one, when it was asked for; later changes are the polls'")
    resources: list[str]
    finished: list[str] = Field(default_factory=list, description="resources read to the end")
    events: dict[str, int] = Field(default_factory=dict, description="events sent so far, by object type")
    requestedDate: str
    updatedDate: str
    finishedDate: str | None = None
    reason: str | None = Field(None, description="why it failed, was cancelled, or is waiting")
