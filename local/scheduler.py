"""EventBridge Scheduler for the local stack: fire the schedules of one schedule group.

Hand-written, because moto stores schedules (create/update/get/list/delete_schedule all work against
the embedded AWS) but never fires them. A background thread looks at the group every `tick` seconds
and invokes the poller, as Scheduler's Lambda target would, with the schedule's `Input` as the event:

- `rate(N minute|minutes|hour|hours|day|days)`: every period, the first one period after the
  schedule was first seen or last modified (an update restarts the period). Periods missed while the
  emulator was not looking are not made up: one firing, then the next period boundary.
- `at(yyyy-mm-ddThh:mm:ss)`: once, when due (in `ScheduleExpressionTimezone`, UTC by default); an
  `at()` already in the past fires at the next look. Afterwards the schedule is deleted when its
  `ActionAfterCompletion` is DELETE.
- DISABLED schedules never fire; `cron()` expressions are not emulated (a warning, no firing).

Each firing runs on its own thread, so one slow poll does not hold up the other schedules, but one
schedule never has two invocations at once: while its previous one runs, a due firing waits for a
later tick. Every firing gets its own `LocalFunction` (its own execution environment, as concurrent
invocations get on Lambda); they share this process's modules, as the API and the dispatcher do.

Handler errors are printed (traceback on stderr) and never stop the emulator. Scheduler invokes Lambda
asynchronously, so a function error is not Scheduler's failure: nothing goes to the schedule's
dead-letter queue, and Lambda's own asynchronous retries are not emulated. Neither are StartDate,
EndDate, flexible time windows nor the target's retry policy.

Tests drive it without waiting: an injected `clock` (or a `time_scale`) and `run_pending()` for one
look; `fire(name)` runs one schedule's target at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local import template
from local._http import print_line
from local.aws import aws_client
from local.lambda_runtime import REGION, Function, FunctionError, Handler, LocalFunction

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEFAULT_TICK_SECONDS = 1.0
# The poller's Timeout in template.yaml.
DEFAULT_TIMEOUT_SECONDS = float(template.function("poller").timeout_seconds)
MAX_RECORDED_INVOCATIONS = 1000

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_AT = re.compile(r"^at\(\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\s*\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_period(expression: str) -> timedelta | None:
    """The period of a `rate(...)` expression, or None when it is not one (or is not positive)."""
    match = _RATE.match(expression.strip())
    if match is None or int(match.group(1)) <= 0:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).removesuffix("s")])


def at_time(expression: str, timezone: str | None = None) -> datetime | None:
    """The moment (aware, UTC) of an `at(...)` expression read in `timezone`, or None when it is not one.

    Raises ZoneInfoNotFoundError for a time zone that does not exist."""
    match = _AT.match(expression.strip())
    if match is None:
        return None
    local = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    zone = ZoneInfo(timezone) if timezone and timezone.upper() != "UTC" else UTC
    return local.replace(tzinfo=zone).astimezone(UTC)


@dataclass
class Invocation:
    """One firing: the schedule, the event handed to the function, and how it ended."""

    name: str
    event: Any
    fired_at: datetime
    finished: bool = False
    result: Any = None
    error: str | None = None


@dataclass
class _Schedule:
    name: str
    modified: Any  # LastModificationDate, as boto3 gives it: a change means the schedule was updated
    expression: str
    timezone: str | None
    state: str
    input: str | None
    target_arn: str
    delete_after: bool
    seen_at: datetime
    period: timedelta | None = None
    next_run: datetime | None = None
    problem: str | None = None

    @property
    def one_time(self) -> bool:
        return self.period is None


@dataclass
class _Firing:
    schedule: _Schedule
    record: Invocation


class SchedulerEmulator:
    """Fires the schedules of `group_name` on the embedded AWS by invoking `handler` (the poller).

    `function_arn`: the poller's ARN; a schedule whose target is another ARN is reported, not fired.
    `tick`: seconds between looks at the group. `time_scale`: simulated seconds per real second (the
    clock for rate and at expressions); `clock` (returning an aware datetime) replaces it altogether.
    """

    def __init__(
        self,
        handler: Handler | Function,
        group_name: str,
        *,
        endpoint_url: str | None,
        region: str = REGION,
        function_arn: str | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        memory_mb: int = 512,
        tick: float = DEFAULT_TICK_SECONDS,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        log_firings: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.handler = handler
        self.group_name = group_name
        self.function_arn = function_arn
        self.function_name = function_arn.rsplit(":", 1)[-1] if function_arn else "poller"
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.tick_seconds = tick
        self.time_scale = time_scale
        self.clock: Clock = clock or _scaled_clock(time_scale)
        self.log_firings = log_firings
        self.invocations: deque[Invocation] = deque(maxlen=MAX_RECORDED_INVOCATIONS)
        self._scheduler = aws_client("scheduler", endpoint_url, region)
        self._schedules: dict[str, _Schedule] = {}
        self._in_flight: set[str] = set()
        self._state = threading.Condition()
        self._pass_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="SchedulerEmulator", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stops looking at the group; waits at most `timeout` seconds for invocations under way."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if not self.wait_idle(timeout):
            logger.warning("scheduler stopped with invocations still running: %s", sorted(self._in_flight))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_pending()
            except Exception:
                # The embedded AWS unreachable for a moment (the stack stopping) must not end the loop.
                logger.exception("looking at the schedules failed")
            self._stopping.wait(self.tick_seconds)

    # --- what callers use ------------------------------------------------------------------------------

    def run_pending(self) -> list[str]:
        """One look at the group: reads what changed, starts every due firing; the names fired."""
        with self._pass_lock:
            now = self.clock()
            self._refresh(now)
            firings: list[_Firing] = []
            with self._state:
                for schedule in sorted(self._schedules.values(), key=lambda s: s.name):
                    if schedule.next_run is None or schedule.next_run > now:
                        continue
                    if schedule.name in self._in_flight:
                        continue  # the previous invocation still runs: a later tick fires this one
                    event = self._event(schedule)
                    if schedule.period is not None:
                        elapsed = (now - schedule.seen_at) / schedule.period
                        schedule.next_run = schedule.seen_at + schedule.period * (math.floor(elapsed) + 1)
                    else:
                        schedule.next_run = None
                    if event is _NO_EVENT:
                        continue
                    self._in_flight.add(schedule.name)
                    firings.append(_Firing(schedule, Invocation(schedule.name, event, now)))
            for firing in firings:
                threading.Thread(
                    target=self._fire_in_background,
                    args=(firing,),
                    name=f"Scheduler-{firing.schedule.name}",
                    daemon=True,
                ).start()
            return [f.schedule.name for f in firings]

    def fire(self, name: str) -> Any:
        """Runs schedule `name`'s target now, on this thread, and returns the function's answer.

        The handler's exception propagates. The schedule itself is left as it is (an at() schedule is
        not deleted, a rate schedule's next firing does not move); an invocation of the same schedule
        under way is waited for first."""
        schedule = self._load(name, self.clock())
        event = self._event(schedule, strict=True)
        with self._state:
            while name in self._in_flight:
                self._state.wait()
            self._in_flight.add(name)
        record = Invocation(name, event, self.clock())
        try:
            return self._invoke(record, raise_errors=True)
        finally:
            self._release(name)

    def due(self) -> dict[str, datetime]:
        """Each schedule's next firing (UTC, by the emulator's clock) as of the last look, soonest first;
        a time already past fires at the next tick. Schedules that will not fire are left out."""
        with self._state:
            pending = [(s.next_run, s.name) for s in self._schedules.values() if s.next_run is not None]
        return {name: when for when, name in sorted(pending)}

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Waits until no invocation runs; False when some still did after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._state:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._state.wait(remaining)
        return True

    # --- reading the group -----------------------------------------------------------------------------

    def _refresh(self, now: datetime) -> None:
        listed: dict[str, Any] = {}
        paginator = self._scheduler.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self.group_name):
            for summary in page.get("Schedules") or []:
                listed[summary["Name"]] = summary.get("LastModificationDate")
        with self._state:
            known = {name: s.modified for name, s in self._schedules.items()}
        changed = [name for name, modified in listed.items() if known.get(name, _UNSEEN) != modified]
        loaded: dict[str, _Schedule] = {}
        for name in changed:
            try:
                loaded[name] = self._load(name, now)
            except self._scheduler.exceptions.ResourceNotFoundException:
                continue  # deleted since the listing
        with self._state:
            for name in list(self._schedules):
                if name not in listed:
                    del self._schedules[name]
            self._schedules.update(loaded)

    def _load(self, name: str, now: datetime) -> _Schedule:
        details = self._scheduler.get_schedule(Name=name, GroupName=self.group_name)
        target = details.get("Target") or {}
        schedule = _Schedule(
            name=name,
            modified=details.get("LastModificationDate"),
            expression=str(details.get("ScheduleExpression") or ""),
            timezone=details.get("ScheduleExpressionTimezone"),
            state=str(details.get("State") or "ENABLED"),
            input=target.get("Input"),
            target_arn=str(target.get("Arn") or ""),
            delete_after=details.get("ActionAfterCompletion") == "DELETE",
            seen_at=now,
        )
        self._plan(schedule)
        return schedule

    def _plan(self, schedule: _Schedule) -> None:
        """The schedule's first firing, or why it will not fire (logged once per version)."""
        if self.function_arn and schedule.target_arn != self.function_arn:
            schedule.problem = f"its target {schedule.target_arn!r} is not the poller {self.function_arn!r}"
        else:
            schedule.period = rate_period(schedule.expression)
            if schedule.period is not None:
                schedule.next_run = schedule.seen_at + schedule.period
            else:
                try:
                    schedule.next_run = at_time(schedule.expression, schedule.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    schedule.problem = f"unknown time zone {schedule.timezone!r}"
                else:
                    if schedule.next_run is None:
                        schedule.problem = f"{schedule.expression!r} is not emulated (rate() and at() are)"
        if schedule.problem is not None:
            schedule.next_run = None
            logger.warning("schedule %s will not fire locally: %s", schedule.name, schedule.problem)
        elif schedule.state != "ENABLED":
            schedule.next_run = None

    def _event(self, schedule: _Schedule, *, strict: bool = False) -> Any:
        try:
            return json.loads(schedule.input) if schedule.input else {}
        except ValueError:
            if strict:
                raise
            logger.error("schedule %s has an Input that is not JSON: %r", schedule.name, schedule.input)
            return _NO_EVENT

    # --- invoking --------------------------------------------------------------------------------------

    def _fire_in_background(self, firing: _Firing) -> None:
        try:
            self._invoke(firing.record, raise_errors=False)
            if firing.schedule.delete_after and firing.schedule.one_time:
                self._delete(firing.schedule.name)
        except Exception:
            logger.exception("firing schedule %s failed", firing.schedule.name)
        finally:
            self._release(firing.schedule.name)

    def _invoke(self, record: Invocation, *, raise_errors: bool) -> Any:
        function: Function
        if isinstance(self.handler, Function):
            function = self.handler
        else:
            # An in-process callable: firings of different schedules run side by side, as on Lambda.
            function = LocalFunction(
                self.function_name,
                self.handler,
                timeout_seconds=self.timeout_seconds,
                memory_mb=self.memory_mb,
            )
        self.invocations.append(record)
        started = time.monotonic()
        try:
            record.result = function.invoke(record.event)
            return record.result
        except Exception as error:
            record.error = f"{type(error).__name__}: {error}"
            if raise_errors:
                raise
            print_line(f"schedule {record.name}: the function failed", stderr=True)
            if not isinstance(error, FunctionError):  # a FunctionError was logged by its environment
                traceback.print_exc()
            return None
        finally:
            record.finished = True
            if self.log_firings:
                self._log(record, (time.monotonic() - started) * 1000)

    def _delete(self, name: str) -> None:
        with contextlib.suppress(self._scheduler.exceptions.ResourceNotFoundException):
            self._scheduler.delete_schedule(Name=name, GroupName=self.group_name)
        with self._state:
            self._schedules.pop(name, None)

    def _release(self, name: str) -> None:
        with self._state:
            self._in_flight.discard(name)
            self._state.notify_all()

    def _log(self, record: Invocation, elapsed_ms: float) -> None:
        line: dict[str, Any] = {
            "level": "ERROR" if record.error else "INFO",
            "message": "schedule fired",
            "schedule": record.name,
            "group": self.group_name,
            "event": record.event,
            "durationMs": round(elapsed_ms, 1),
        }
        if record.error:
            line["error"] = record.error
        print_line(json.dumps(line, default=str), stderr=True)


_NO_EVENT = object()
_UNSEEN = object()


def _scaled_clock(time_scale: float) -> Clock:
    if time_scale == 1.0:
        return lambda: datetime.now(UTC)
    origin = datetime.now(UTC)
    origin_monotonic = time.monotonic()
    return lambda: origin + timedelta(seconds=(time.monotonic() - origin_monotonic) * time_scale)
