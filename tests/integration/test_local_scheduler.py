"""The Scheduler emulator fires the schedules moto stores: rate() every period, at() once, never DISABLED.

A simulated clock stands in for minutes passing; `run_pending()` is one look at the group.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.aws import LocalAws, MotoServer, create_resources
from local.scheduler import SchedulerEmulator, at_time, rate_period

START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Poller:
    """A poller stand-in: records each event and context; can block on a gate or raise."""

    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.events: list[Any] = []
        self.contexts: list[Any] = []
        self.fail = fail
        self.gate = gate
        self.running = 0
        self.most_at_once = 0
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.events.append(event)
            self.contexts.append(context)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        try:
            if self.gate is not None:
                assert self.gate.wait(10)
            if self.fail:
                raise RuntimeError("Intercom is down")
            return {"polled": event.get("instanceId")}
        finally:
            with self._lock:
                self.running -= 1

    def instance_ids(self) -> list[Any]:
        return [event.get("instanceId") for event in self.events]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def resources(moto_server: MotoServer) -> LocalAws:
    return create_resources(moto_server.endpoint_url)


@pytest.fixture
def aws(resources: LocalAws) -> LocalAws:
    """The module's resources with a schedule group of the test's own."""
    group = f"{resources.schedule_group_name}-{uuid.uuid4().hex[:6]}"
    resources.client("scheduler").create_schedule_group(Name=group)
    return dataclasses.replace(resources, schedule_group_name=group)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(aws: LocalAws, clock: Clock) -> Iterator[Callable[..., SchedulerEmulator]]:
    made: list[SchedulerEmulator] = []

    def make(handler: Any, **options: Any) -> SchedulerEmulator:
        options.setdefault("clock", clock)
        scheduler = SchedulerEmulator(
            handler,
            aws.schedule_group_name,
            endpoint_url=aws.endpoint_url,
            function_arn=aws.poller_function_arn,
            **options,
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.stop(timeout=5)


def create(
    aws: LocalAws, name: str, expression: str, *, instance_id: int = 7, state: str = "ENABLED", **extra: Any
) -> None:
    aws.client("scheduler").create_schedule(
        Name=name,
        GroupName=aws.schedule_group_name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": extra.pop("target_arn", aws.poller_function_arn),
            "RoleArn": aws.scheduler_role_arn,
            "Input": json.dumps({"instanceId": instance_id}),
        },
        State=state,
        **extra,
    )


def update(aws: LocalAws, name: str, expression: str, *, state: str = "ENABLED") -> None:
    current = aws.client("scheduler").get_schedule(Name=name, GroupName=aws.schedule_group_name)
    aws.client("scheduler").update_schedule(
        Name=name,
        GroupName=aws.schedule_group_name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=current["Target"],
        State=state,
    )


def names_in_group(aws: LocalAws) -> list[str]:
    schedules = aws.client("scheduler").list_schedules(GroupName=aws.schedule_group_name)["Schedules"]
    return [s["Name"] for s in schedules]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


# --- expressions -----------------------------------------------------------------------------------


def test_rate_expressions_are_read_in_every_unit() -> None:
    assert rate_period("rate(1 minute)") == timedelta(minutes=1)
    assert rate_period("rate(15 minutes)") == timedelta(minutes=15)
    assert rate_period("rate(2 hours)") == timedelta(hours=2)
    assert rate_period("rate(1 day)") == timedelta(days=1)
    assert rate_period("rate(0 minutes)") is None
    assert rate_period("cron(0 12 * * ? *)") is None


def test_at_expressions_are_read_in_their_time_zone() -> None:
    assert at_time("at(2025-03-01T12:00:00)") == START
    assert at_time("at(2025-03-01T07:00:00)", "America/New_York") == START
    assert at_time("rate(1 minute)") is None


# --- firing ----------------------------------------------------------------------------------------


def test_a_rate_schedule_fires_after_one_minute_and_again_after_two(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    create(aws, "instance-7", "rate(1 minute)")

    assert scheduler.run_pending() == []
    assert scheduler.due() == {"instance-7": START + timedelta(minutes=1)}
    clock.advance(seconds=59)
    assert scheduler.run_pending() == []
    clock.advance(seconds=1)
    assert scheduler.run_pending() == ["instance-7"]
    assert scheduler.wait_idle(5)
    assert poller.instance_ids() == [7]

    clock.advance(seconds=30)
    assert scheduler.run_pending() == []
    clock.advance(seconds=30)
    assert scheduler.run_pending() == ["instance-7"]
    assert scheduler.wait_idle(5)
    assert poller.instance_ids() == [7, 7]
    assert scheduler.due() == {"instance-7": START + timedelta(minutes=3)}


def test_the_poller_runs_with_its_arn_and_five_minutes(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller, timeout_seconds=300)
    create(aws, "instance-3", "rate(5 minutes)", instance_id=3)
    scheduler.run_pending()
    clock.advance(minutes=5)

    scheduler.run_pending()
    assert scheduler.wait_idle(5)

    [context] = poller.contexts
    assert context.invoked_function_arn == aws.poller_function_arn
    assert 295_000 < context.get_remaining_time_in_millis() <= 300_000
    [invocation] = scheduler.invocations
    assert (invocation.name, invocation.event, invocation.result) == (
        "instance-3",
        {"instanceId": 3},
        {"polled": 3},
    )


def test_a_disabled_schedule_never_fires(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    create(aws, "instance-8", "rate(1 minute)", instance_id=8, state="DISABLED")

    for _ in range(10):
        assert scheduler.run_pending() == []
        clock.advance(minutes=1)

    assert scheduler.wait_idle(5)
    assert poller.events == []
    assert scheduler.due() == {}


def test_an_at_schedule_in_the_past_fires_once_and_is_deleted(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    name = "instance-9-now-20250301115959000000"
    create(
        aws,
        name,
        f"at({stamp(START - timedelta(seconds=1))})",
        instance_id=9,
        ScheduleExpressionTimezone="UTC",
        ActionAfterCompletion="DELETE",
    )

    assert scheduler.run_pending() == [name]
    assert scheduler.wait_idle(5)
    for _ in range(3):
        clock.advance(minutes=1)
        assert scheduler.run_pending() == []

    assert poller.instance_ids() == [9]
    assert names_in_group(aws) == []


def test_an_at_schedule_waits_for_its_time_in_its_zone_and_stays_without_delete(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    # 07:02 in New York is 12:02 UTC, two minutes after the clock's start.
    create(aws, "once", "at(2025-03-01T07:02:00)", ScheduleExpressionTimezone="America/New_York")

    scheduler.run_pending()
    clock.advance(minutes=1)
    assert scheduler.run_pending() == []
    clock.advance(minutes=1)
    assert scheduler.run_pending() == ["once"]
    assert scheduler.wait_idle(5)
    clock.advance(minutes=5)
    assert scheduler.run_pending() == []

    assert poller.instance_ids() == [7]
    assert names_in_group(aws) == ["once"]


def test_an_updated_rate_takes_effect(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    create(aws, "instance-4", "rate(10 minutes)", instance_id=4)
    scheduler.run_pending()
    clock.advance(minutes=3)

    update(aws, "instance-4", "rate(1 minute)")
    assert scheduler.run_pending() == []
    assert scheduler.due() == {"instance-4": START + timedelta(minutes=4)}
    clock.advance(minutes=1)
    assert scheduler.run_pending() == ["instance-4"]
    assert scheduler.wait_idle(5)

    update(aws, "instance-4", "rate(1 minute)", state="DISABLED")
    for _ in range(3):
        clock.advance(minutes=1)
        assert scheduler.run_pending() == []
    assert poller.instance_ids() == [4]


def test_a_deleted_schedule_stops_firing(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    create(aws, "instance-5", "rate(1 minute)", instance_id=5)
    scheduler.run_pending()

    aws.client("scheduler").delete_schedule(Name="instance-5", GroupName=aws.schedule_group_name)
    clock.advance(minutes=2)

    assert scheduler.run_pending() == []
    assert scheduler.due() == {}


def test_a_schedule_aimed_at_another_function_is_not_fired(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    create(
        aws, "elsewhere", "rate(1 minute)", target_arn="arn:aws:lambda:us-east-1:123456789012:function:Other"
    )
    scheduler.run_pending()
    clock.advance(minutes=5)

    assert scheduler.run_pending() == []
    assert poller.events == []


def test_one_schedule_never_runs_twice_at_once_and_does_not_hold_up_another(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    gate = threading.Event()
    slow = Poller(gate=gate)
    scheduler = emulator(lambda event, context: slow(event, context) if event["instanceId"] == 1 else None)
    create(aws, "instance-1", "rate(1 minute)", instance_id=1)
    create(aws, "instance-2", "rate(1 minute)", instance_id=2)
    scheduler.run_pending()

    clock.advance(minutes=1)
    assert scheduler.run_pending() == ["instance-1", "instance-2"]
    assert slow.started.wait(5)
    clock.advance(minutes=1)
    # instance-1's first poll is still running: its second waits; instance-2 goes ahead.
    assert scheduler.run_pending() == ["instance-2"]
    assert scheduler.run_pending() == []

    gate.set()
    assert scheduler.wait_idle(5)
    assert scheduler.run_pending() == ["instance-1"]
    assert scheduler.wait_idle(5)
    assert slow.instance_ids() == [1, 1]
    assert slow.most_at_once == 1
    # Late by a tick, not a burst: the next firing is still on the minute.
    assert scheduler.due()["instance-1"] == START + timedelta(minutes=3)


def test_fire_runs_a_schedule_now_and_returns_the_answer(
    aws: LocalAws, emulator: Callable[..., SchedulerEmulator]
) -> None:
    poller = Poller()
    scheduler = emulator(poller)
    create(aws, "instance-6", "rate(1 hour)", instance_id=6)

    assert scheduler.fire("instance-6") == {"polled": 6}
    assert poller.instance_ids() == [6]
    with pytest.raises(RuntimeError, match="Intercom is down"):
        emulator(Poller(fail=True)).fire("instance-6")


def test_a_failing_poller_does_not_stop_the_emulator(
    aws: LocalAws, emulator: Callable[..., SchedulerEmulator], capfd: pytest.CaptureFixture[str]
) -> None:
    poller = Poller(fail=True)
    # A simulated minute every tenth of a second, on the background thread.
    scheduler = emulator(poller, clock=None, time_scale=600, tick=0.02).start()
    create(aws, "instance-10", "rate(1 minute)", instance_id=10)

    deadline = time.monotonic() + 10
    while len(poller.events) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)

    assert len(poller.events) >= 3
    assert scheduler.running
    assert scheduler.invocations[0].error == "RuntimeError: Intercom is down"
    assert "RuntimeError: Intercom is down" in capfd.readouterr().err


# --- the product's schedules -------------------------------------------------------------------------


@pytest.fixture
def product_environment(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' environment pointed at this test's resources, the project's caches cleared."""
    from local.stack import clear_project_caches

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    clear_project_caches()
    yield
    clear_project_caches()


@pytest.mark.usefixtures("product_environment")
def test_the_products_schedules_fire_the_poller(
    aws: LocalAws, clock: Clock, emulator: Callable[..., SchedulerEmulator]
) -> None:
    from intercom_events.store import schedules

    poller = Poller()
    scheduler = emulator(poller)
    schedules.put(21, 2, True)
    schedules.put(22, 1, False)
    schedules.poll_now(21, clock())

    # Poll now: due at once, then gone.
    [fired] = scheduler.run_pending()
    assert scheduler.wait_idle(5)
    assert fired.startswith("instance-21-now-")
    assert sorted(names_in_group(aws)) == ["instance-21", "instance-22"]
    clock.advance(minutes=2)
    assert scheduler.run_pending() == ["instance-21"]
    assert scheduler.wait_idle(5)

    assert poller.instance_ids() == [21, 21]
    assert scheduler.due() == {"instance-21": START + timedelta(minutes=4)}
