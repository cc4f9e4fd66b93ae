"""Open Connectors' `event.poller.configuration`, and what each entry means for Intercom.

Each entry maps a resource name (the callback's objectType) to where and how to look for changes.
`url` may be an Intercom REST path or Open Connectors' hub form; both resolve to one Intercom endpoint.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import ConfigDict, Field, ValidationError, field_validator

from ..dates import check_format, expand_macros, utc_iso, zone
from ..errors import BadRequest
from .base import Model

# The Intercom resources the poller knows: how to read them and which fields they carry.
SEARCHABLE = ("contacts", "conversations", "tickets")
SCROLLED = ("companies",)
DEFAULT_RESOURCES = ("contacts", "conversations", "companies", "tickets")
# Open Connectors' hub names for Intercom's resources.
HUB_ALIASES = {"users": "contacts", "leads": "contacts", "customers": "contacts"}


class DatesConfiguration(Model):
    model_config = ConfigDict(extra="ignore")

    updatedDateField: str = "updated_at"
    updatedDateFormat: str = "timestamp"
    updatedDateTimezone: str | None = None
    createdDateField: str = "created_at"
    createdDateFormat: str = "timestamp"
    createdDateTimezone: str | None = None


class ResourcePoll(Model):
    """One entry of event.poller.configuration (Open Connectors' names, values possibly strings)."""

    model_config = ConfigDict(extra="ignore")

    url: str
    idField: str = "id"
    filterByUpdatedDate: bool = True
    filterByCurrentDate: bool = False
    datesConfiguration: DatesConfiguration = Field(default_factory=DatesConfiguration)
    createdCheckTolerance: int = Field(0, ge=0)
    pageSize: int = Field(150, ge=1, le=150)
    pollDelay: int = Field(0, ge=0)

    @field_validator("pageSize", mode="before")
    @classmethod
    def _cap(cls, value: Any) -> Any:
        # Intercom's search stops at 150 a page; a larger Open Connectors pageSize means "as many as allowed".
        try:
            return min(int(value), 150)
        except (TypeError, ValueError):
            return value

    def target(self, last_poll: datetime) -> Target:
        """The endpoint, its `where` filters carrying the last poll time where the url has macros."""
        # Each expanded value is percent-encoded so that parse_qs gives it back intact ('+05:30').
        return resolve_url(expand_macros(self.url, last_poll, encode=lambda value: quote(value, safe="")))

    def check(self) -> None:
        """Refuse at save time what would fail every poll: the url, date formats and zones."""
        self.target(datetime.now(UTC))
        dates = self.datesConfiguration
        for fmt in (dates.updatedDateFormat, dates.createdDateFormat):
            check_format(fmt)
        for name in (dates.updatedDateTimezone, dates.createdDateTimezone):
            zone(name)


# `partial`: out of time, the next poll resumes; `failed`: anything else went wrong (its type in `reason`).
PollOutcome = Literal["done", "partial", "busy", "skipped", "unauthorized", "unavailable", "failed"]


class AuthorizationFailure(Model):
    """Intercom refused the instance's access token (401): it was revoked; authorize the instance again.
    Kept from the first refusal until a poll that Intercom lets in."""

    date: str
    message: str


class PollerStatus(Model):
    """The poller's state for a polling instance, as the instance's answer shows it (no secret in it)."""

    pollingSince: str | None = Field(None, description="no poll sends a change older than this")
    lastPollDate: str | None = None
    outcome: PollOutcome | None = None
    reason: str | None = None
    events: dict[str, int] | None = Field(None, description="events the last poll sent, by object type")
    authorizationFailure: AuthorizationFailure | None = None
    consecutiveFailures: int | None = Field(
        None,
        description="polls in a row that failed or found Intercom unavailable, since the last that made "
        "progress (done or partial); from 3 on the instance counts as stuck and raises PollerStuck",
    )
    failingSince: str | None = Field(None, description="when the first of those failed polls ran")

    @classmethod
    def from_record(cls, values: dict[str, Any]) -> PollerStatus:
        """From the POLL#STATUS record (store.cursors), where `pollingSince` is epoch seconds."""
        since = values.get("pollingSince")
        if since is not None:
            values = {**values, "pollingSince": utc_iso(float(since))}
        return cls.model_validate(values)


class Target(Model):
    """The Intercom endpoint a configured url resolves to, with any filters its `where` clause adds."""

    resource: str
    method: Literal["search", "scroll"]
    filters: list[dict[str, Any]] = Field(default_factory=list)


_REST = re.compile(
    r"^/(?P<resource>contacts|conversations|tickets|companies)(?:/(?P<verb>search|scroll|list))?/?$"
)
_HUB = re.compile(r"^/hubs/[a-z]+/(?P<resource>[A-Za-z_]+)/?$")
# One `field op value` of a simple CEQL where clause: `state = 'open'`, `updated_at > 1700000000`.
_CONDITION = re.compile(
    r"^\s*(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>=|!=|>|<|>=|<=)\s*(?P<value>'[^']*'|\S+)\s*$"
)


def resolve_url(url: str) -> Target:
    """Intercom REST paths and Open Connectors' /hubs/marketing/<resource> both name one Intercom resource.

    Open Connectors' `orderBy` is not needed: the poller always reads newest first and stops at the
    window's start. A `where` clause of simple `field op value` terms joined by `and` becomes Intercom
    search filters (its date macros were expanded before); anything richer is refused at save time.
    """
    split = urlsplit(url.strip())
    path = split.path
    rest = _REST.match(path)
    hub = _HUB.match(path)
    if rest:
        resource = rest["resource"]
    elif hub:
        resource = HUB_ALIASES.get(hub["resource"].lower(), hub["resource"].lower())
    else:
        raise ValueError(f"unknown Intercom resource path {path[:100]!r}")
    if resource not in SEARCHABLE + SCROLLED:
        raise ValueError(f"Intercom resource {resource!r} cannot be polled")
    filters: list[dict[str, Any]] = []
    where = parse_qs(split.query).get("where")
    if where:
        if resource in SCROLLED:
            raise ValueError("companies cannot be filtered with where: Intercom only scrolls them")
        filters = _where_filters(where[0])  # parse_qs has decoded it already
    return Target(resource=resource, method="scroll" if resource in SCROLLED else "search", filters=filters)


def _where_filters(clause: str) -> list[dict[str, Any]]:
    filters = []
    for term in re.split(r"\s+and\s+", clause, flags=re.IGNORECASE):
        match = _CONDITION.match(term)
        if not match:
            raise ValueError(f"unsupported where term {term[:100]!r}: use field op value joined by 'and'")
        raw = match["value"]
        value: Any = raw[1:-1] if raw.startswith("'") else _number(raw)
        filters.append({"field": match["field"], "operator": match["op"], "value": value})
    return filters


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def default_configuration() -> dict[str, ResourcePoll]:
    """Intercom's own fields: Unix-second created_at/updated_at on every resource."""
    paths = {
        "contacts": "/contacts/search",
        "conversations": "/conversations/search",
        "companies": "/companies/scroll",
        "tickets": "/tickets/search",
    }
    return {name: ResourcePoll(url=path) for name, path in paths.items()}


def parse_poller_configuration(
    configuration: dict[str, Any] | None, objects: list[str] | None
) -> dict[str, ResourcePoll]:
    """The resources to poll: the configured map (or the default), narrowed by event.objects."""
    if not configuration:
        resources = default_configuration()
    else:
        resources = {}
        errors = []
        for name, entry in configuration.items():
            try:
                resources[name] = ResourcePoll.model_validate(entry)
                resources[name].check()
            except (ValidationError, ValueError) as exc:
                message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                errors.append(
                    {"field": f"configuration.event.poller.configuration.{name}", "message": message}
                )
        if errors:
            raise BadRequest("Invalid event.poller.configuration", errors)
    if objects:
        resources = {name: entry for name, entry in resources.items() if name in objects}
    return resources
