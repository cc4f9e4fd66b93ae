"""Backfill: read an instance's resources again from a date and send each record's current version once.

For an integrator who joined late or lost its own copy (Nango's initial sync, Airbyte's full refresh).
`POST /instances/{id}/backfill` records the backfill (store.backfills) and an every-minute schedule for
it; each run of the poller on that schedule reads on from the last checkpoint, with the poll's own
machinery (logic.polling.ResourcePoller) but everything of its own:

- its window is [since, until], `until` being when it was asked for: a record changed later is the
  scheduled polls' to send (they send its newer version), so the backfill never races them for it;
- its lease (BACKFILL#LOCK), so it runs beside the scheduled polls; it never reads or writes their cursors
  or what they sent: a backfill sends on purpose what the polls may have sent already;
- what it sent (`BACKFILL#<run>#SEEN#…`, kept BACKFILL_RETENTION_SECONDS), so a page read twice (a
  resumed run, records shifting under Intercom's stateless cursors) sends nothing twice;
- its eventIds (derived from the run id): the dispatcher does not take a record's backfilled version
  for the one a poll delivered;
- its callbacks and event-log entries say `backfill` (message.backfill.id, source `backfill`).

Cost per record sent: as a poll's (one BatchWriteItem unit for what it sent, at most one checkpoint
write a page), plus one schedule invocation a minute while it runs (`busy` in milliseconds while a run
is still going).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from ..dates import utc_iso
from ..errors import BadRequest, Conflict, NotFound
from ..intercom.client import IntercomAuthError, IntercomClient, IntercomError
from ..models.backfill import BackfillBody, BackfillStatus
from ..models.instance import Instance
from ..models.poller_config import ResourcePoll, parse_poller_configuration
from ..observability import MetricUnit, logger, metrics
from ..store import backfills, cursors, schedules
from ..store import instances as instance_store
from ..store.cursors import Resume
from .auth import Caller
from .instances import get_owned
from .polling import ResourcePoller, Window, describe, intercom_client

# A running backfill checkpoints at least every QUIET_CHECKPOINT_SECONDS of a run, and a run starts every
# minute: one silent this long has lost its schedule, and a new backfill may take its place.
STALE_SECONDS = 900.0
BACKFILL_RETENTION_SECONDS = 7 * 86400.0  # far longer than any backfill runs


def start(
    caller: Caller, instance_id: int, body: BackfillBody, now: Callable[[], float] = time.time
) -> BackfillStatus:
    instance = get_owned(caller, instance_id)
    readable = _resources(instance)
    names = list(dict.fromkeys(body.resources)) if body.resources is not None else list(readable)
    unknown = [name for name in names if name not in readable]
    if unknown or not names:
        raise BadRequest(
            "Nothing to backfill" if not names else "Unknown resources",
            [{"field": "resources", "message": f"read: {', '.join(readable) or 'none'}"}],
        )
    moment = now()
    since = body.since.timestamp()
    if since >= moment:
        raise BadRequest("Invalid request", [{"field": "since", "message": "must be in the past"}])
    if since < 0:
        raise BadRequest("Invalid request", [{"field": "since", "message": "must be after 1970"}])
    run_id = str(uuid.uuid4())
    running = backfills.start(
        instance_id, run_id, since=since, until=moment, resources=names, stale_before=moment - STALE_SECONDS
    )
    if running is not None:
        raise Conflict(f"A backfill of this instance is running: {running.get('runId')}")
    try:
        schedules.put_backfill(instance_id, run_id)
    except Exception as exc:
        backfills.finish(instance_id, run_id, "failed", now(), f"not scheduled: {describe(exc)}")
        raise
    logger.info(
        "backfill requested",
        extra={
            "instance_id": instance_id,
            "backfill_id": run_id,
            "since": utc_iso(since),
            "resources": names,
        },
    )
    return get(caller, instance_id)


def get(caller: Caller, instance_id: int) -> BackfillStatus:
    get_owned(caller, instance_id)
    state = backfills.load(instance_id)
    if state is None:
        raise NotFound("This instance has no backfill")
    return _status(state)


def cancel(caller: Caller, instance_id: int, now: Callable[[], float] = time.time) -> BackfillStatus:
    """Stop the running backfill: what it sent stays sent; its next checkpoint finds it cancelled."""
    get_owned(caller, instance_id)
    state = backfills.load(instance_id)
    if state is None:
        raise NotFound("This instance has no backfill")
    if state["status"] == "running":
        with contextlib.suppress(backfills.Superseded):  # it ended meanwhile: its record says how
            backfills.cancel(instance_id, state["runId"], now(), "cancelled by request")
        schedules.remove_backfill(instance_id)
        logger.info("backfill cancelled", extra={"instance_id": instance_id, "backfill_id": state["runId"]})
    return get(caller, instance_id)


def _resources(instance: Instance) -> dict[str, ResourcePoll]:
    config = instance.config
    return parse_poller_configuration(config.poller_configuration, config.event_objects)


def _status(state: dict[str, Any]) -> BackfillStatus:
    return BackfillStatus(
        id=state["runId"],
        status=state["status"],
        since=utc_iso(float(state["since"])),
        until=utc_iso(float(state["until"])),
        resources=state.get("resources", []),
        finished=state.get("finished", []),
        events=state.get("events", {}),
        requestedDate=state["requestedDate"],
        updatedDate=state["updatedDate"],
        finishedDate=state.get("finishedDate"),
        reason=state.get("reason"),
    )


class BackfillPoller(ResourcePoller):
    """One resource of a backfill: the poll's pass over [since, until], checkpointed on the backfill."""

    source = "backfill"
    retention = BACKFILL_RETENTION_SECONDS
    cut_at_until = True

    def __init__(
        self,
        instance: Instance,
        name: str,
        entry: ResourcePoll,
        client: IntercomClient,
        time_left: Callable[[], float],
        now: Callable[[], float],
        state: dict[str, Any],
        counts: dict[str, int],
    ) -> None:
        # Nothing from before `since` goes out: it is this pass's floor.
        super().__init__(instance, name, entry, client, time_left, now, float(state["since"]), counts)
        self.run_id = self.backfill_id = state["runId"]
        self.until = float(state["until"])
        self.resume = Resume.from_item(state.get("resume", {}).get(name))  # where its last run stopped
        self.counts[name] = int(state.get("events", {}).get(name, 0))  # counted over all its runs
        self.scope = cursors.backfill_scope(self.run_id, name)
        self.origin = f"backfill:{self.run_id}:{name}"

    def run(self) -> int:
        if self._passes(Window(self.floor, self.until, self.resume)):
            backfills.checkpoint(
                self.instance.id,
                self.run_id,
                self.name,
                resume=None,
                sent=self.sent,
                now=self.now(),
                finished=True,
            )
        return self.sent

    def _checkpoint(self, resume: Resume) -> None:
        backfills.checkpoint(
            self.instance.id, self.run_id, self.name, resume=resume.as_item(), sent=self.sent, now=self.now()
        )


def run(
    instance_id: int,
    run_id: str,
    *,
    time_left: Callable[[], float],
    owner: str,
    now: Callable[[], float] = time.time,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """One run of a backfill's schedule: on from its last checkpoint until it ends or time runs out."""
    report: dict[str, Any] = {"instanceId": instance_id, "backfillId": run_id, "events": {}}
    state = backfills.load(instance_id)
    if state is None or state["runId"] != run_id:
        # Replaced by a newer backfill, whose schedule this is now: leave it be.
        return _ended(report, "skipped", "no such backfill (replaced or removed)", remove=state is None)
    if state["status"] != "running":
        return _ended(report, "skipped", f"the backfill is {state['status']}", remove=True)
    instance = instance_store.get(instance_id)
    config = instance.config if instance is not None else None
    if (
        instance is None
        or instance.deleted
        or instance.disabled
        or config is None
        or not config.events_enabled
    ):
        backfills.cancel(
            instance_id, run_id, now(), "the instance was deleted, disabled or its events turned off"
        )
        return _ended(report, "cancelled", "instance deleted, disabled or its events off", remove=True)
    if not cursors.acquire_lock(
        instance_id, owner, now(), lease_seconds=max(time_left(), 1.0) + 5, lock=cursors.BACKFILL_LOCK
    ):
        return _ended(report, "busy", "a run of this backfill is under way")
    outcome: str = "partial"
    reason: str | None = "out of time; the next run resumes"
    failure: Exception | None = None
    client = intercom_client(instance, time_left, http)
    try:
        entries = _resources(instance)
        for name in state["resources"]:
            if name in state.get("finished", []):
                continue
            entry = entries.get(name)
            if entry is None:  # the configuration no longer reads it: nothing more to send
                sent = int(state.get("events", {}).get(name, 0))
                backfills.checkpoint(
                    instance_id, run_id, name, resume=None, sent=sent, now=now(), finished=True
                )
                continue
            poller = BackfillPoller(instance, name, entry, client, time_left, now, state, report["events"])
            poller.run()
            if poller.out_of_time:
                break
        else:
            backfills.finish(instance_id, run_id, "done", now())
            outcome, reason = "done", None
    except backfills.Superseded:
        outcome, reason = "cancelled", "cancelled or replaced while it ran"
    except IntercomAuthError:
        outcome, reason = "failed", "Intercom answered 401: the access token was revoked"
        backfills.finish(instance_id, run_id, "failed", now(), reason)
        metrics.add_metric(name="PollerAuthErrors", unit=MetricUnit.Count, value=1)
    except IntercomError as exc:  # the next run, a minute on, tries again
        outcome, reason = "unavailable", f"Intercom unavailable ({exc.status or 'network'}); retrying"
        backfills.note(instance_id, run_id, reason, now())
        metrics.add_metric(name="PollErrors", unit=MetricUnit.Count, value=1)
    except Exception as exc:  # on the record, then raised for Lambda to count; the next run tries again
        outcome, reason, failure = "failed", f"backfill run failed: {describe(exc)}", exc
        metrics.add_metric(name="PollErrors", unit=MetricUnit.Count, value=1)
        try:
            backfills.note(instance_id, run_id, reason, now())
        except Exception as note_failure:
            logger.error("backfill status not recorded", extra={"error": describe(note_failure)})
    finally:
        try:
            cursors.release_lock(instance_id, owner, lock=cursors.BACKFILL_LOCK)
        except Exception as exc:  # the lease runs out by itself
            logger.error("backfill lock not released", extra={"error": describe(exc)})
    report = _ended(report, outcome, reason, remove=outcome in ("done", "failed") and failure is None)
    if failure is not None:
        raise failure
    return report


def _ended(report: dict[str, Any], outcome: str, reason: str | None, remove: bool = False) -> dict[str, Any]:
    if remove:  # the backfill is over: its schedule goes (a failure here is retried by the next run)
        schedules.remove_backfill(report["instanceId"])
    report |= {"outcome": outcome, "reason": reason}
    logger.info("backfill run finished", extra={"instance_id": report["instanceId"], **report})
    return report
