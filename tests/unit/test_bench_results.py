"""`make bench`'s arithmetic and report: ratios, targets, percentiles, cost lines, RESULTS.md's misses."""

from __future__ import annotations

import datetime
import math

import pytest

from benchmarks import results, unit_cost
from benchmarks.figures import Figure, percentile


def test_a_ratio_target_is_met_at_or_under_it_and_missed_over_it() -> None:
    assert Figure("a", "a", value=15, unit="ms", floor=10, target=1.5).met is True
    assert Figure("a", "a", value=15.1, unit="ms", floor=10, target=1.5).met is False
    assert Figure("a", "a", value=15, unit="ms", floor=10).met is None  # no target: reported only


def test_a_count_without_floor_is_held_to_the_target_itself() -> None:
    assert Figure("w", "writes", value=2, unit="writes", target=2).met is True
    assert Figure("w", "writes", value=3, unit="writes", target=2).met is False


def test_higher_is_better_turns_the_target_into_a_floor_to_reach() -> None:
    rate = {"unit": "events/s", "floor": 100, "target": 0.8, "higher_is_better": True}
    assert Figure("r", "rate", value=90, **rate).met  # type: ignore[arg-type]
    assert not Figure("r", "rate", value=70, **rate).met  # type: ignore[arg-type]


def test_percentile_is_the_nearest_rank() -> None:
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert percentile(values, 0.99) == 99
    assert percentile(values, 0.5) == 50
    assert percentile([7.0], 0.99) == 7.0


def test_a_lambda_line_bills_whole_milliseconds_at_the_functions_memory() -> None:
    line = unit_cost.lambda_line("api", cpu_ms=10.0)
    billed = math.ceil(10.0 * unit_cost.PRICES.cpu_factor)
    memory = unit_cost.memory_mb("api")
    assert line.per_million == pytest.approx(billed / 1000 * memory / 1024 * 0.0000133334 * 1e6)
    # A receiver's wait is billed as it was, not scaled; a tenth of a batch is a tenth of its cost.
    waited = unit_cost.lambda_line("dispatcher", cpu_ms=0.0, wait_ms=200.0, share=0.1)
    assert waited.per_million == pytest.approx(
        200 / 1000 * unit_cost.memory_mb("dispatcher") / 1024 * 0.0000133334 * 1e6 / 10
    )


def test_aws_lines_price_each_service_and_count_index_writes_twice() -> None:
    calls = {"sqs:SendMessage": 1, "dynamodb:UpdateItem": 2, "dynamodb:GetItem": 1, "kms:Decrypt": 0.5}
    lines = {line.what: line.per_million for line in unit_cost.aws_lines(calls, "x")}
    assert lines == pytest.approx(
        {
            "SQS requests (x)": 0.40,
            "DynamoDB writes (x)": 2 * 0.625,
            "DynamoDB reads (x)": 0.125,
            "KMS (x)": 1.5,
        }
    )
    indexed = {line.what: line.per_million for line in unit_cost.aws_lines(calls, "x", indexed=True)}
    assert indexed["DynamoDB writes (x)"] == pytest.approx(4 * 0.625)  # the event and its byTime copy


def test_results_list_each_missed_target_with_its_reason_and_a_failed_module() -> None:
    missed = Figure(
        "cold.api.webhook", "api: a webhook first", value=30, unit="ms", floor=10, target=1.5,
        note="Powertools' import is most of it.",
    )  # fmt: skip
    met = Figure("intake.calls", "AWS calls a webhook", value=1, unit="calls", target=1)
    text = results.render(
        {"cold_start": ([missed], 12.0, None), "intake": ([met], 5.0, None), "dispatch": ([], 1.0, "Boom")},
        quick=False,
        started=datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC),
    )
    assert "**api: a webhook first**: 3x against 1.5x. Powertools' import is most of it." in text
    assert "| AWS calls a webhook | 1 calls |  |  | met (<= 1) | 1 |" in text
    assert "It failed:" in text and "Boom" in text
    assert "2026-12-02" in text
