"""Dollars per million webhook events and per million polls, from what `make bench` measured.

The prices are benchmarks/capacity.py's (one place for each: us-east-1 list prices, HTTP API, Lambda on
arm64, recorded on PRICES_RECORDED; docs/capacity.md links each page). The counts are the ones the bench
counted (AWS calls per webhook, per delivered event, per poll). Durations measured here become Lambda's
billed milliseconds as capacity.py estimates them: the CPU part scaled by `cpu_factor` (a 512 MB
function gets about a third of the vCPU this machine's core gives), waiting on a receiver or on Intercom
not scaled, each rounded up to a whole millisecond as Lambda bills. Free tiers are left out, except
Scheduler's, which capacity.py also leaves in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.capacity import PRICES_RECORDED, Inputs
from benchmarks.figures import Figure

PRICES = Inputs()
DDB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
INTAKE_OWN_WORK = "own work ms (SendMessage answered in-process)"  # a detail of benchmarks/intake.py's
DDB_READS = ("GetItem", "Query", "BatchGetItem", "Scan", "TransactGetItems")


@dataclass(frozen=True)
class Line:
    what: str
    per_million: float  # USD for a million of the unit
    basis: str  # the measured count or duration it comes from


def memory_mb(function: str) -> int:
    from local.template import function as settings  # template.yaml, Globals applied

    return settings(function).memory_mb


def lambda_line(function: str, cpu_ms: float, wait_ms: float = 0.0, share: float = 1.0) -> Line:
    """One invocation's duration at the function's MemorySize (arm64), times the share of it one unit
    takes (a tenth of a batch of ten)."""
    billed = math.ceil(cpu_ms * PRICES.cpu_factor + wait_ms)
    memory = memory_mb(function)
    dollars = billed / 1000 * memory / 1024 * PRICES.lambda_gb_second * share * 1e6
    basis = f"{billed} ms billed at {memory} MB"
    if share != 1:
        basis += f", 1/{round(1 / share)} of it"
    return Line(f"Lambda {function} duration", dollars, basis)


def aws_lines(calls: Mapping[str, float], who: str, indexed: bool = False) -> list[Line]:
    """`calls`: "service:Operation" -> calls per unit. DynamoDB calls are priced at one unit each: its items
    here are under 1 KB written (an event with its compressed job, the sample's) and 4 KB read. `indexed`:
    the writes are to events, which the byTime index copies: a write unit for each, twice."""
    lines = []
    sqs = sum(n for name, n in calls.items() if name.startswith("sqs:"))
    if sqs:
        lines.append(Line(f"SQS requests ({who})", sqs * PRICES.sqs_per_million, f"{sqs:g} a unit"))
    writes = sum(n for name, n in calls.items() if name.split(":")[-1] in DDB_WRITES)
    if writes:
        copies = 2 if indexed else 1
        basis = f"{writes:g} a unit" + (", x2: the index" if indexed else "")
        lines.append(Line(f"DynamoDB writes ({who})", copies * writes * PRICES.ddb_per_million_wru, basis))
    reads = sum(n for name, n in calls.items() if name.split(":")[-1] in DDB_READS)
    if reads:
        lines.append(Line(f"DynamoDB reads ({who})", reads * PRICES.ddb_per_million_rru, f"{reads:g} a unit"))
    kms = sum(n for name, n in calls.items() if name.startswith("kms:"))
    if kms:
        lines.append(Line(f"KMS ({who})", kms * PRICES.kms_per_10k * 100, f"{kms:g} a unit"))
    return lines


@dataclass(frozen=True)
class Batch:
    """A full batch of the dispatcher's, as dispatch.py measured it."""

    own_ms: float  # its own work (moto's emulation of its AWS calls taken out)
    receiver_ms: float  # what the receiver made it wait (its callbacks overlap)
    size: int
    calls: Mapping[str, float]  # AWS calls per delivered event


def webhook_event(intake_own_ms: float, intake_calls: Mapping[str, float], batch: Batch) -> list[Line]:
    """One webhook: through the HTTP API and the api function onto the queue (its own work, and a round
    trip for each AWS call), then its callback as one record of a full batch (SQS's receive and delete by
    the event source mapping, a share each). The batch waits for the receiver and, for its records'
    claims and results (made at once), two AWS round trips."""
    share = 1 / batch.size
    intake_wait_ms = sum(intake_calls.values()) * PRICES.aws_call_ms
    batch_wait_ms = batch.receiver_ms + 2 * PRICES.aws_call_ms
    sqs_event_source = 2 * share * PRICES.sqs_per_million
    return [
        Line("HTTP API request", PRICES.http_api_per_million, "1 a webhook"),
        Line("Lambda api request", PRICES.lambda_per_million, "1 a webhook"),
        lambda_line("api", intake_own_ms, intake_wait_ms),
        *aws_lines(intake_calls, "intake"),
        Line("SQS receive and delete (event source)", sqs_event_source, f"2 a batch of {batch.size}"),
        Line("Lambda dispatcher request", share * PRICES.lambda_per_million, f"1 a batch of {batch.size}"),
        lambda_line("dispatcher", batch.own_ms, batch_wait_ms, share),
        *aws_lines(batch.calls, "delivery", indexed=True),
    ]


def poll(poll_ms: float, intercom_requests: float, poll_calls: Mapping[str, float]) -> list[Line]:
    """One scheduled poll: Scheduler's invocation, the poller's request and duration (each Intercom page
    waited for as capacity.py estimates it), and its AWS calls. The callbacks it sends are priced as
    deliveries, per event, above."""
    wait = intercom_requests * PRICES.intercom_page_ms
    return [
        Line("Scheduler invocation", PRICES.scheduler_per_million, "1 a poll"),
        Line("Lambda poller request", PRICES.lambda_per_million, "1 a poll"),
        lambda_line("poller", poll_ms, wait),
        *aws_lines(poll_calls, "poll"),
    ]


def _table(title: str, lines: list[Line]) -> list[str]:
    total = sum(line.per_million for line in lines)
    rows = [f"**{title}: ${total:,.2f} a million.**", "", "| part | $ a million | from |", "|---|---:|---|"]
    rows += [f"| {line.what} | {line.per_million:,.3f} | {line.basis} |" for line in lines]
    return [*rows, ""]


def _find(figures: list[Figure], key: str) -> Figure | None:
    return next((f for f in figures if f.key == key), None)


def _calls(figure: Figure | None, detail: str = "calls") -> dict[str, Any]:
    """A figure's AWS calls per unit, by "service:Operation", from its details."""
    calls = figure.details.get(detail, {}) if figure else {}
    return {str(k): float(v) for k, v in calls.items()}


def cost_section(figures: list[Figure]) -> list[str]:
    out = [
        "## Cost",
        "",
        f"AWS's us-east-1 list prices recorded on {PRICES_RECORDED} (benchmarks/capacity.py;",
        "docs/capacity.md links each page): HTTP API, Lambda on arm64, SQS standard, DynamoDB on demand,",
        "Scheduler, KMS. No free tier, no logs, traces or storage (docs/capacity.md prices those at a load).",
        f"Durations as benchmarks/unit_cost.py bills them: the CPU part x{PRICES.cpu_factor:.2f}, each AWS",
        f"call {PRICES.aws_call_ms:g} ms and each Intercom page {PRICES.intercom_page_ms:g} ms (estimates),",
        "the receiver's wait as measured. The poll's CPU part includes moto's in-process emulation of its",
        "DynamoDB and SQS calls: an upper bound.",
        "",
    ]
    intake, batch = _find(figures, "intake.warm"), _find(figures, "dispatch.batch10")
    poll_figure = _find(figures, "poll.duration")
    delivery = _find(figures, "dispatch.aws_calls")
    if intake and batch and delivery:
        measured = Batch(
            own_ms=float(batch.details.get("own work ms", batch.value)),
            receiver_ms=float(batch.details.get("receiver ms", PRICES.receiver_ms)),
            size=int(batch.details.get("batch size", PRICES.batch_size)),
            calls=_calls(delivery, "per delivered event"),
        )
        # The intake's own work as intake.py measured it (SendMessage answered in-process), else all of it.
        own_ms = float(intake.details.get(INTAKE_OWN_WORK, intake.value))
        lines = webhook_event(own_ms, _calls(_find(figures, "intake.calls"), "calls"), measured)
        out += _table("A webhook event, received and delivered", lines)
    else:
        out += ["A webhook event: not priced, its figures are missing from this run.", ""]
    if poll_figure:
        requests = float(poll_figure.details.get("intercom requests", 1))
        out += _table("A poll", poll(poll_figure.value, requests, _calls(poll_figure)))
    else:
        out += ["A poll: not priced, its figures are missing from this run.", ""]
    return out
