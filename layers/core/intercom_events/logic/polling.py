"""Polling Intercom: every change once, nothing missed (SPEC §7).

One pass per resource reads Intercom's search newest-first and stops at the window's start, so a poll
costs pages in proportion to what changed, not to the workspace. The window reaches back past the
previous pass by `pollDelay` and by Intercom's indexing lag (records that become searchable late);
what that overlap sends again is recognised by the version each record last sent (store.cursors keeps one
small item per record sent, so no number of changes inside one window can outgrow an item).

Search cursors are stateless offsets: a record that changes during a pass moves to the front (seen
again next poll, its version newer), and one that vanishes shifts the rest back, which can skip a
record. A shrinking `total_count` therefore triggers another pass over the same window.

Nothing from before the instance polled: every window starts no earlier than the floor, the later of
the instance's creation and the time polling was turned on for it (an instance that delivered by
webhooks until then has sent those changes already), both at Intercom's precision, the second. A
record changed in that second counts as changed at creation. The floor holds on every path: the first
poll, the look-back overlap, `pollDelay`, a resumed pass, cursors deleted by an operator, a resource
not filtered by updated date, and a whole-day contact search. A record without a readable updated date
is skipped (and logged): nothing tells whether it changed after the floor, nor which version was sent.

Every page is a checkpoint: its callbacks are enqueued, then the versions it sent are recorded, then the
cursor (the page cursor to resume from) is saved, so a poll cut short by the Lambda timeout resumes where
it stopped. A crash between the enqueue and the record re-reads the page and sends the same groups under
the same eventIds, which the dispatcher recognises. Cost per change sent: one BatchWriteItem unit for its
version and at most one cursor write for its page (a page sending one change costs two writes, a full
page of 150 about 1.01 each). A page that sends nothing writes nothing, except the resume point once per
QUIET_CHECKPOINT_SECONDS, so that a poll cut short in a long quiet stretch re-reads at most that much
of it; and each pass ends with one cursor write (the next window). A lease in DynamoDB keeps two polls of
one instance apart.

Every poll ends on the record (POLL#STATUS, the "poll finished" line, and `PollErrors` unless it is
done, partial, busy or skipped): out of time is `partial` (the client's deadline and the poller's stop
margin agree, so the poller stops itself before a call could run into Lambda's timeout); any other
failure is `failed`, with the exception's type (never its message) as the reason, and is raised again
so that Lambda counts the error. Failed or unavailable polls in a row are counted on the record until one
makes progress; from STUCK_AFTER_FAILURES on, each raises `PollerStuck` (docs/operations.md says how to
read the reason, and the way out).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from ..dates import parse_instant, utc_iso
from ..intercom.client import (
    DEADLINE_RESERVE,
    DeadlineReached,
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    Page,
    ScrollExpired,
)
from ..models.events import EventType, NormalizedEvent
from ..models.instance import Instance
from ..models.poller_config import PollOutcome, ResourcePoll, Target, parse_poller_configuration
from ..observability import MetricUnit, logger, metrics
from ..store import bus, cursors, queue
from ..store import instances as instance_store
from ..store.cursors import Cursor, FailureRun, Resume
from .jobs import make_jobs

STOP_MARGIN_SECONDS = 20.0  # time kept to checkpoint before Lambda's timeout
# The poller stops before a page when the client could no longer make the call (its deadline is the
# stop margin, and it keeps DEADLINE_RESERVE of that for itself): out of time is the poller's decision.
STOP_BEFORE_PAGE_SECONDS = STOP_MARGIN_SECONDS + DEADLINE_RESERVE
QUIET_CHECKPOINT_SECONDS = 30.0
# How far a window reaches back past the previous pass, for records Intercom indexes late.
INDEX_LAG_SECONDS = {"contacts": 600.0}
DEFAULT_INDEX_LAG_SECONDS = 120.0
# The query's lower bound is loose (two days back): contact search matches dates by calendar day in the
# workspace's zone; reading newest-first and stopping at the window's start keeps the pages few.
QUERY_SLACK_SECONDS = 2 * 86400
MAX_PASSES = 3
SCROLL_RESUME_SECONDS = 45.0  # Intercom drops an idle scroll after a minute
EVENTS_PER_CALLBACK = 10
MAX_JOB_BYTES = 200_000  # under SQS's 256 KB with room for the envelope
# Failed polls in a row after which an instance counts as stuck (`PollerStuck`, its alarm): 45 minutes at
# the default interval, as one failure is made good by the next poll. A `failed` poll is raised and Lambda
# retries it twice, so one scheduled poll failing for good counts three.
STUCK_AFTER_FAILURES = 3


@dataclass
class PollReport:
    instance_id: int
    outcome: PollOutcome = "done"
    events: dict[str, int] = field(default_factory=dict)
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "instanceId": self.instance_id,
            "outcome": self.outcome,
            "events": self.events,
            "reason": self.reason,
        }


class OutOfTime(Exception):
    """Stop here: the cursor holds where to resume."""


def poll(
    instance_id: int,
    *,
    time_left: Callable[[], float],
    owner: str,
    now: Callable[[], float] = time.time,
    http: httpx.Client | None = None,
) -> PollReport:
    report = PollReport(instance_id)
    instance = instance_store.get(instance_id)
    if instance is None or instance.deleted:
        return _skip(report, "no such instance")
    config = instance.config
    if instance.disabled or not config.events_enabled or config.vendor_type != "polling":
        return _skip(report, "polling is off for this instance")
    if not cursors.acquire_lock(instance_id, owner, now(), lease_seconds=max(time_left(), 1.0) + 5):
        logger.info(
            "poll skipped: another poll of this instance is running", extra={"instance_id": instance_id}
        )
        metrics.add_metric(name="PollsOverlapped", unit=MetricUnit.Count, value=1)
        report.outcome, report.reason = "busy", "another poll is running"
        return report
    metrics.add_metric(name="PollsRun", unit=MetricUnit.Count, value=1)
    floor = polling_floor(instance, cursors.polling_since(instance_id))
    refused: dict[str, Any] | None = None
    failure: Exception | None = None
    where = ""  # " while polling <resource>", for the reason of a failure: the cursor to look at
    client = intercom_client(instance, time_left, http)
    try:
        for name, entry in parse_poller_configuration(
            config.poller_configuration, config.event_objects
        ).items():
            where = f" while polling {name}"
            poller = ResourcePoller(instance, name, entry, client, time_left, now, floor, report.events)
            poller.run()
            if poller.out_of_time:
                report.outcome, report.reason = "partial", "out of time; the next poll resumes"
                break
    except IntercomAuthError:
        # The token was revoked: keep the cursors (nothing was lost), mark the instance, raise the alarm.
        report.outcome, report.reason = "unauthorized", "Intercom answered 401: the access token was revoked"
        refused = {"date": utc_iso(now()), "message": report.reason}
        metrics.add_metric(name="PollerAuthErrors", unit=MetricUnit.Count, value=1)
        logger.error("poll refused by Intercom: token revoked", extra={"instance_id": instance_id})
    except IntercomError as exc:
        answered = " ".join(str(part) for part in (exc.status or "network", exc.code) if part)
        report.outcome, report.reason = "unavailable", f"Intercom unavailable ({answered}){where}"
        metrics.add_metric(name="PollErrors", unit=MetricUnit.Count, value=1)
        logger.warning(
            "poll stopped: Intercom unavailable", extra={"instance_id": instance_id, "error": str(exc)}
        )
    except Exception as exc:  # anything else (a store write refused, a bug): on the record, then raised
        failure = exc
        report.outcome, report.reason = "failed", f"poll failed: {describe(exc)}{where}"
        metrics.add_metric(name="PollErrors", unit=MetricUnit.Count, value=1)
        logger.error("poll failed", extra={"instance_id": instance_id, "error": describe(exc)})
    finally:
        try:
            cursors.release_lock(instance_id, owner)
        except Exception as exc:  # the lease runs out by itself; the outcome still goes on the record
            logger.error("poll lock not released", extra={"instance_id": instance_id, "error": describe(exc)})
    run = FailureRun()
    try:
        run = cursors.record_status(
            instance_id,
            {
                "lastPollDate": utc_iso(now()),
                "outcome": report.outcome,
                "reason": report.reason,
                "events": report.events,
            },
            refused=refused,
            let_in=report.outcome in ("done", "partial"),  # Intercom took the token again
        )
    except Exception as exc:
        logger.error("poll status not recorded", extra={"instance_id": instance_id, "error": describe(exc)})
        failure = failure or exc
    if refused is not None and run.refused_since == refused["date"]:
        # The refusal on the record began with this poll (if_not_exists kept no earlier one): told once,
        # not on every poll refused after it. Unrecorded, it is told by the next poll that records it.
        began = datetime.fromtimestamp(_epoch(refused["date"]), UTC)
        bus.publish(bus.DetailType.POLLER_REFUSED, instance_id, began, refused["message"])
    if report.outcome in cursors.FAILING_OUTCOMES and run.count >= STUCK_AFTER_FAILURES:
        metrics.add_metric(name="PollerStuck", unit=MetricUnit.Count, value=1)
        logger.error(
            "poller stuck",
            extra={
                "instance_id": instance_id,
                "consecutive_failures": run.count,
                "failing_since": run.since,
                "reason": report.reason,
            },
        )
    logger.info("poll finished", extra={"instance_id": instance_id, **report.as_dict()})
    if failure is not None:
        raise failure
    return report


def intercom_client(
    instance: Instance, time_left: Callable[[], float], http: httpx.Client | None = None
) -> IntercomClient:
    """The instance's Intercom client, whose calls stop at the poller's stop margin."""
    return IntercomClient.for_instance(
        instance.config,
        http=http,
        deadline=lambda: time_left() - STOP_MARGIN_SECONDS,
        on_rate_limit_wait=lambda seconds: metrics.add_metric(
            name="RateLimitWaits", unit=MetricUnit.Seconds, value=seconds
        ),
    )


def describe(exc: Exception) -> str:
    """The exception's type and, for an AWS refusal, its error code: never a message that could carry data."""
    answer = getattr(exc, "response", None)  # botocore's ClientError carries the parsed answer
    error = answer.get("Error") if isinstance(answer, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return f"{type(exc).__name__} ({code})" if isinstance(code, str) else type(exc).__name__


def _skip(report: PollReport, reason: str) -> PollReport:
    report.outcome, report.reason = "skipped", reason
    logger.info("poll skipped", extra={"instance_id": report.instance_id, "reason": reason})
    return report


def polling_floor(instance: Instance, polling_since: float | None) -> float:
    """The earliest change any scheduled poll may send: the instance's creation, or when polling started."""
    return max(_epoch(instance.created_date), polling_since or float("-inf"))


def dotted(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# ---- the decisions: pure, so that they are tested without AWS or Intercom (tests/unit) --------------------


@dataclass(frozen=True)
class Window:
    """What one pass reads: changes in [start, until], and where an unfinished pass over it stopped."""

    start: float
    until: float
    resume: Resume | None = None


def index_lag(resource: str) -> float:
    return INDEX_LAG_SECONDS.get(resource, DEFAULT_INDEX_LAG_SECONDS)


def window_start(since: float, floor: float, poll_delay: float, lag: float) -> float:
    """Back from `since` by `pollDelay` and Intercom's indexing lag, but never behind the floor."""
    return max(since - poll_delay - lag, floor)


def poll_window(
    since: float, resume: Resume | None, *, floor: float, now: float, poll_delay: float, lag: float
) -> Window:
    """The window of a scheduled poll's pass: a resumed pass keeps its own (held to the floor), a new
    one runs from the previous pass's start, less the look-back, to now."""
    since = max(since, floor)  # no cursor, or one older than polling itself: the window opens at the floor
    if resume is not None and resume.until < floor:
        resume = None  # a pass cut short before polling last started: that window is closed
    if resume is not None:
        return Window(max(resume.start, floor), resume.until, resume)
    return Window(window_start(since, floor, poll_delay, lag), now, None)


@dataclass(frozen=True)
class Change:
    """A record's version inside the window, and the event it makes."""

    record_id: str
    version: float  # its updated date, epoch seconds
    record: dict[str, Any]
    event: NormalizedEvent


@dataclass(frozen=True)
class PageChanges:
    changes: list[Change]  # one per record id (its newest version on the page), in page order
    reached_start: bool  # a record older than the window showed up (newest first: the rest are older)
    undated: int  # records skipped for want of a readable updated date


def page_changes(
    records: list[dict[str, Any]],
    entry: ResourcePoll,
    resource: str,
    window: Window,
    *,
    floor: float,
    cut_at_until: bool = False,
) -> PageChanges:
    """What a page holds for the window, read with the entry's `datesConfiguration`, `idField`,
    `filterByUpdatedDate`, `filterByCurrentDate` and `createdCheckTolerance`."""
    dates = entry.datesConfiguration
    found: dict[str, tuple[float, dict[str, Any], datetime]] = {}
    reached_start = False
    undated = 0
    for record in records:
        updated = parse_instant(
            dotted(record, dates.updatedDateField), dates.updatedDateFormat, dates.updatedDateTimezone
        )
        if updated is None:
            undated += 1
            continue
        version = updated.timestamp()
        if entry.filterByUpdatedDate and version < window.start:
            reached_start = True  # newest first: everything after this is older still
            continue
        if version < floor:
            continue  # without filterByUpdatedDate the url's filter picks; none from before goes out
        if (cut_at_until or entry.filterByCurrentDate) and version > window.until:
            continue  # changed after this pass began: the next poll's
        record_id = dotted(record, entry.idField)
        if record_id is None:
            continue
        key = str(record_id)
        if key not in found or found[key][0] < version:
            found[key] = (version, record, updated)
    poll_date = utc_iso(window.until)
    changes = [
        Change(key, version, record, change_event(record, key, updated, entry, resource, poll_date))
        for key, (version, record, updated) in found.items()
    ]
    return PageChanges(changes, reached_start, undated)


def change_event(
    record: dict[str, Any],
    record_id: str,
    updated: datetime,
    entry: ResourcePoll,
    resource: str,
    poll_date: str,
) -> NormalizedEvent:
    dates = entry.datesConfiguration
    created = parse_instant(
        dotted(record, dates.createdDateField), dates.createdDateFormat, dates.createdDateTimezone
    )
    # Open Connectors' rule: created equal to updated (within the tolerance) is a creation.
    is_new = created is not None and abs((updated - created).total_seconds()) <= entry.createdCheckTolerance
    return NormalizedEvent(
        date=utc_iso(updated.timestamp()),
        eventType=EventType.CREATED if is_new else EventType.UPDATED,
        objectId=record_id,
        objectType=resource,
        pollDate=poll_date,
    )


def unsent(changes: list[Change], known: Mapping[str, float]) -> list[Change]:
    """The changes whose version has not gone out yet (an overlapping window, a page read twice)."""
    return [c for c in changes if known.get(c.record_id, float("-inf")) < c.version]


# ---- the machinery ---------------------------------------------------------------------------------------


@dataclass
class _Reading:
    """One pass's progress through Intercom's pages."""

    page_cursor: str | None
    first_total: int | None  # the result count when the pass began
    last_total: int | None = None
    scroll_restarts: int = 0

    @property
    def shrank(self) -> bool:
        """Records vanished while the pass read (stateless cursors may have skipped one)."""
        return (
            self.first_total is not None
            and self.last_total is not None
            and self.last_total < self.first_total
        )


class ResourcePoller:
    """One resource of one instance: a pass over its window, page by page, each page a checkpoint.

    A backfill (logic/backfill.py) reads the same way with its own window, checkpoint and record of what
    it sent: `run`, `_checkpoint` and the class attributes below are what it changes."""

    source: Literal["polling", "backfill"] = "polling"
    retention: float = cursors.SEEN_RETENTION_SECONDS  # how long a version sent is remembered
    cut_at_until = False  # send nothing changed after the pass began, whatever filterByCurrentDate says
    backfill_id: str | None = None

    def __init__(
        self,
        instance: Instance,
        name: str,
        entry: ResourcePoll,
        client: IntercomClient,
        time_left: Callable[[], float],
        now: Callable[[], float],
        floor: float,
        counts: dict[str, int],
    ) -> None:
        self.instance = instance
        self.name = name
        self.entry = entry
        self.client = client
        self.time_left = time_left
        self.now = now
        self.floor = floor
        self.out_of_time = False
        self.counts = counts  # the poll's report: what was sent stays counted if the poll fails later
        self.counts[name] = 0
        self.known: dict[str, float] = {}  # versions sent, as read from or written to the store this run
        self.saved_at = float("-inf")
        self.since = floor  # the start of the window's pass, as the cursor keeps it (the url's macros)
        self.scope = cursors.seen_scope(name)
        self.origin = name  # what the callbacks' eventIds are derived from, with the records' versions

    @property
    def sent(self) -> int:
        return self.counts[self.name]

    def run(self) -> int:
        cursor = cursors.load(self.instance.id, self.name) or Cursor(since=self.floor)
        cursor.since = max(cursor.since, self.floor)  # a cursor older than polling itself
        self.since = cursor.since
        if cursor.legacy_seen:
            self._migrate(cursor)
        window = poll_window(
            cursor.since,
            cursor.resume_point,
            floor=self.floor,
            now=self.now(),
            poll_delay=self.entry.pollDelay,
            lag=index_lag(self.name),
        )
        if not self._passes(window):
            return self.sent
        # The next window starts where this pass started.
        cursors.save(self.instance.id, self.name, Cursor(since=window.until))
        return self.sent

    def _passes(self, window: Window) -> bool:
        """Read the window to its end, again while records vanish under the reading: False when time ran
        out first (the last checkpoint holds where to resume)."""
        target = self.entry.target(datetime.fromtimestamp(self.since, UTC))
        number = window.resume.pass_number if window.resume else 1
        try:
            while self._pass(target, window, number) and number < MAX_PASSES:
                number += 1
                window = replace(window, resume=None)
                logger.info(
                    "records vanished during the pass; reading the window again",
                    extra={"instance_id": self.instance.id, "resource": self.name, "pass": number},
                )
        except OutOfTime:
            self.out_of_time = True
            return False
        return True

    def _migrate(self, cursor: Cursor) -> None:
        """A cursor saved with the old seen map: its entries that a window can still reach become SEEN
        items, once (idempotent if cut short), and the cursor is saved without the map."""
        reach = window_start(cursor.since, self.floor, self.entry.pollDelay, index_lag(self.name))
        resume = cursor.resume_point
        if resume is not None:
            reach = min(reach, resume.start)
        keep = {rid: float(v) for rid, v in cursor.legacy_seen.items() if float(v) >= reach}
        entries = list(keep.items())
        groups = [
            dict(entries[i : i + EVENTS_PER_CALLBACK]) for i in range(0, len(entries), EVENTS_PER_CALLBACK)
        ]
        cursors.mark_sent(self.instance.id, self.scope, groups, self.now())
        cursor.legacy_seen = {}
        cursors.save(self.instance.id, self.name, cursor)
        logger.info(
            "cursor moved to per-record versions",
            extra={"instance_id": self.instance.id, "resource": self.name, "records": len(keep)},
        )

    def _pass(self, target: Target, window: Window, number: int) -> bool:
        """Read the window once, page by page: read, take, checkpoint. True when the result set shrank
        while it was read."""
        resume = window.resume
        reading = _Reading(resume.cursor if resume else None, resume.total if resume else None)
        if target.method == "scroll" and resume and resume.saved_at < self.now() - SCROLL_RESUME_SECONDS:
            reading.page_cursor = None  # the scroll has expired by now: start it again, `seen` covers repeats
        reading.last_total = reading.first_total
        while True:
            page = self._read(target, window.start, reading)
            if reading.first_total is None:
                reading.first_total = page.total_count
            if page.total_count is not None:
                reading.last_total = page.total_count
            sent, reached_start = self._take(page, window)
            # Search reads newest first, so an older record ends the pass; a scroll is in no order.
            reached_start = reached_start and target.method == "search"
            reading.page_cursor = page.next_cursor
            if reached_start or not page.next_cursor or (target.method == "scroll" and not page.records):
                return reading.shrank  # the pass's end is saved by run (or read again by the next pass)
            if sent or self.now() - self.saved_at >= QUIET_CHECKPOINT_SECONDS:
                self._checkpoint(
                    Resume(
                        until=window.until,
                        start=window.start,
                        cursor=page.next_cursor,
                        pass_number=number,
                        total=reading.first_total,
                        saved_at=self.now(),
                    )
                )
                self.saved_at = self.now()

    def _read(self, target: Target, start: float, reading: _Reading) -> Page:
        """The next page, or OutOfTime when the poll could not finish the call within its margin."""
        while True:
            if self.time_left() < STOP_BEFORE_PAGE_SECONDS:
                raise OutOfTime
            try:
                return self._page(target, start, reading.page_cursor)
            except DeadlineReached:
                raise OutOfTime from None  # a wait or a call would run past the stop margin
            except ScrollExpired as exc:
                reading.scroll_restarts += 1
                if exc.code == "scroll_exists" or reading.scroll_restarts > 2:
                    # Another scroll of this app is open; it closes after a minute idle: try next run.
                    raise OutOfTime from None
                logger.info(
                    "companies scroll expired; starting again", extra={"instance_id": self.instance.id}
                )
                reading.page_cursor = None

    def _page(self, target: Target, start: float, page_cursor: str | None) -> Page:
        if target.method == "scroll":
            return self.client.scroll_page(target.resource, page_cursor)
        field_name = self.entry.datesConfiguration.updatedDateField
        filters = list(target.filters)
        if self.entry.filterByUpdatedDate:
            filters.append({"field": field_name, "operator": ">", "value": int(start - QUERY_SLACK_SECONDS)})
        if not filters:
            filters.append({"field": field_name, "operator": ">", "value": 0})
        query = filters[0] if len(filters) == 1 else {"operator": "AND", "value": filters}
        return self.client.search_page(
            target.resource,
            query,
            per_page=self.entry.pageSize,
            starting_after=page_cursor,
            sort_field=field_name,
            order="descending",
        )

    def _take(self, page: Page, window: Window) -> tuple[int, bool]:
        """Send the page's versions not sent yet: how many, and whether a record older than the window
        showed up."""
        found = page_changes(
            page.records, self.entry, self.name, window, floor=self.floor, cut_at_until=self.cut_at_until
        )
        for _ in range(found.undated):
            logger.warning(
                "record without a readable updated date skipped",
                extra={"instance_id": self.instance.id, "resource": self.name},
            )
        unknown = [c.record_id for c in found.changes if c.record_id not in self.known]
        if unknown:
            self.known.update(cursors.sent_versions(self.instance.id, self.scope, unknown))
        fresh = unsent(found.changes, self.known)
        if fresh:
            self._send(fresh, window.until)
        return len(fresh), found.reached_start

    def _checkpoint(self, resume: Resume) -> None:
        """Keep where the pass is, so that a poll cut short resumes from here."""
        cursors.save(self.instance.id, self.name, Cursor(since=self.since, resume=resume.as_item()))

    def _send(self, fresh: list[Change], until: float) -> None:
        """Enqueue the callbacks, then record the versions they carry."""
        groups = self._enqueue(fresh, until)
        # Recorded a whole callback at a time: if the poll stops halfway, the page read again forms the
        # callbacks not recorded exactly as before, under the same eventIds.
        versions = {c.record_id: c.version for c in fresh}
        cursors.mark_sent(
            self.instance.id,
            self.scope,
            [{k: versions[k] for k in group} for group in groups],
            self.now(),
            self.retention,
        )
        self.known.update(versions)

    def _enqueue(self, fresh: list[Change], until: float) -> list[list[str]]:
        """Send the callbacks; the record ids of each, in order."""
        jobs = []
        groups = []
        for part in _parts(fresh):
            records = [change.record for change in part]
            events = [change.event for change in part]
            groups.append([event.objectId for event in events])
            raw = {self.name: records, "pollDate": int(until * 1000), "objectType": self.name}
            # The same records at the same versions make the same eventId: a page read twice (a retried
            # poll, a crash between enqueue and checkpoint) is recognised by the dispatcher.
            origin = hashlib.sha256("|".join(f"{e.objectId}@{e.date}" for e in events).encode()).hexdigest()
            jobs.extend(
                make_jobs(
                    self.instance.id,
                    self.source,
                    f"{self.origin}:{origin}",
                    raw,
                    events,
                    datetime.now(UTC),
                    backfill_id=self.backfill_id,
                )
            )
        queue.send(jobs)
        self.counts[self.name] += len(fresh)
        metrics.add_metric(name="EventsEnqueued", unit=MetricUnit.Count, value=len(fresh))
        logger.info(
            "polled changes enqueued",
            extra={
                "instance_id": self.instance.id,
                "resource": self.name,
                "events": len(fresh),
                "event_ids": [job.eventId for job in jobs],
            },
        )
        return groups


def _parts(fresh: list[Change]) -> Iterator[list[Change]]:
    """Groups of at most ten events whose records fit one queue message."""
    group: list[Change] = []
    size = 0
    for change in fresh:
        change_size = len(json.dumps(change.record, separators=(",", ":"), default=str)) + 300
        if group and (len(group) == EVENTS_PER_CALLBACK or size + change_size > MAX_JOB_BYTES):
            yield group
            group, size = [], 0
        group.append(change)
        size += change_size
    if group:
        yield group


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
