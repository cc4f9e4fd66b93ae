"""The capacity model's arithmetic, against a case worked by hand (docs/capacity.md shows the defaults)."""

from __future__ import annotations

import math

import pytest

from benchmarks.capacity import SECONDS_PER_MONTH, Inputs, model, parse

# 900 instances every 15 min: one poll a second, one resource, nothing changed; ten webhooks a second.
HAND = Inputs(
    polling_instances=900,
    poll_interval_minutes=15,
    webhooks_per_second=10,
    resources_per_instance=1,
    changes_per_poll=0,
    webhook_job_kb=3,
    job_compression=0.4,
    event_item_kb=0.5,
    intake_ms_measured=2,
    poll_ms_measured=40,
    cpu_factor=1,
    aws_call_ms=10,
    intercom_page_ms=300,
    receiver_ms=100,
    dispatcher_ms_per_record=10,
    intake_cache_miss=0,
    dispatcher_cache_miss_webhook=0,
    failing_receiver_share=0.01,
    retry_hold_hours=27.6,
    poller_memory_mb=1024,
)


def test_lambda_time_and_concurrency_per_part() -> None:
    intake, dispatcher, poller = model(HAND).parts
    # intake: 2 ms of work + one SendMessage of 10 ms, ten a second
    assert intake.seconds_per_request == pytest.approx(0.012)
    assert intake.concurrency == pytest.approx(0.12)
    # a batch of ten: 10 records x 10 ms of CPU + 2 sequential calls x 10 ms + the receiver's 100 ms
    assert dispatcher.requests_per_second == pytest.approx(1.0)
    assert dispatcher.seconds_per_request == pytest.approx(0.22)
    # a quiet poll: 40 ms + 8 calls (6 fixed, cursor read and save) x 10 ms + one Intercom page of 300 ms
    assert poller.seconds_per_request == pytest.approx(0.42)
    assert poller.gb_seconds_per_month == pytest.approx(0.42 * 1 * SECONDS_PER_MONTH)


def test_dispatcher_cap_units_and_in_flight() -> None:
    m = model(HAND)
    assert m.figures["dispatcher_cap_callbacks_per_second"] == pytest.approx(20 * 10 / 0.22)
    # event log: claim and record, each on the table and the index, of an event whose 3 KB job is
    # 1.2 KB compressed (0.5 + 1.2 -> 2 KB); poller: cursor save, lock, unlock, status
    assert m.wru == pytest.approx(10 * 4 * 2 + 4)
    in_flight = next(q for q in m.quotas if q.name.startswith("SQS"))
    assert in_flight.used == pytest.approx(0.22 * 10 + 10 * 0.01 * 27.6 * 3600)
    assert m.figures["in_flight_fill_hours"] == pytest.approx(120_000 / 0.1 / 3600)


def test_costs() -> None:
    costs = model(HAND).costs
    # one Decrypt a second (the poller's token); the caches catch the rest
    assert costs["KMS requests"] == pytest.approx(SECONDS_PER_MONTH / 1e4 * 0.03)
    # 2.6 million polls a month stay inside Scheduler's 14 million free invocations
    assert costs["Scheduler invocations"] == 0
    assert costs["HTTP API requests"] == pytest.approx(10 * SECONDS_PER_MONTH / 1e6)


def test_a_changed_poll_sends_at_most_two_writes_per_change() -> None:
    busy = model(Inputs(changes_per_poll=1_500, resources_per_instance=1))
    # ten pages of 150 each send; the first nine are checkpoints, the pass's end is saved anyway
    assert busy.figures["writes_per_change_sent"] == pytest.approx(1 + 9 / 1_500)
    assert math.isclose(busy.figures["polls_per_second"], 100_000 / 900)


def test_command_line_options_reach_the_model() -> None:
    inputs = parse(["--webhooks-per-second", "5", "--dispatcher-max-concurrency", "40"])
    assert (inputs.webhooks_per_second, inputs.dispatcher_max_concurrency) == (5.0, 40)
    assert model(inputs).figures["jobs_per_second"] == pytest.approx(
        5 + model(Inputs()).figures["polls_per_second"] * 2
    )
