"""Capacity model: what a load costs in Lambda time, AWS calls, quota headroom and dollars a month.

Run: `.venv/bin/python -m benchmarks.capacity` (the defaults: 100,000 instances polling every 15
minutes plus 1,000 webhooks a second), or change any input, e.g. `--webhooks-per-second 200
--dispatcher-max-concurrency 100`; `--help` lists them all. Standard library only; arithmetic, no AWS.
docs/capacity.md explains each input, where each quota and price is published, and what degrades first.

Every input is a field of `Inputs` below, grouped as: the load; unit costs measured here
(`benchmarks.aws_calls`, moto in-process); estimates (marked, change them when you measure on AWS);
the template's settings; published quotas; published us-east-1 prices. Figures that follow the
poller's new checkpoint state (one small item per record sent, BatchGetItem per page of ids,
BatchWriteItem for what a page sends) are marked [ckpt] in the output.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields, replace
from typing import Any

SECONDS_PER_MONTH = 30.4375 * 86400  # an average month: 365.25 / 12 days
# When the prices below were read from AWS's pricing pages (docs/capacity.md links each page).
PRICES_RECORDED = "2026-12-01"


@dataclass(frozen=True)
class Inputs:
    # --- the load ------------------------------------------------------------------------------
    polling_instances: int = 100_000
    poll_interval_minutes: float = 15
    webhooks_per_second: float = 1_000
    # Without event.poller.configuration: contacts, conversations, companies, tickets.
    resources_per_instance: int = 4
    changes_per_poll: float = 2.0  # records changed per instance per interval, all resources (estimate)
    # Records the window re-reads per change: the window reaches back by Intercom's indexing lag,
    # (15 + 10 min) / 15 min for contacts. [ckpt] each one is a seen-item read.
    lookback_factor: float = 25 / 15
    page_size: int = 150  # Intercom's maximum, the poller's default
    events_per_polling_callback: int = 10
    webhook_job_kb: float = 3.0  # one notification as a callback job (estimate)
    polling_job_kb: float = 15.0  # ten records with `raw` (estimate; contacts run 1-2 KB each)
    # The job rides on its event item zlib'd (store/deliveries.py): the sample job compresses to 0.52 of
    # its size; larger ones, of repeated field names, further (estimate).
    job_compression: float = 0.4
    event_item_kb: float = 0.5  # an event's log entry without its job: status, dates, attempt log
    # --- measured here: benchmarks.aws_calls (moto in-process, loopback peers, this machine) -------
    intake_ms_measured: float = 1.9  # webhook intake, warm instance cache: 1 SQS call
    poll_ms_measured: float = 44.4  # one poll, one resource, one page of 25 changes
    # --- estimates: change them after measuring on AWS (Lambda REPORT lines, X-Ray) --------------
    cpu_factor: float = 1769 / 512  # Lambda gives one vCPU at 1,769 MB; 512 MB gets this fraction
    aws_call_ms: float = 6.0  # one in-region DynamoDB/SQS/KMS round trip
    intercom_page_ms: float = 300.0  # one Intercom search page
    receiver_ms: float = 200.0  # the integrator's receiver answering one callback
    dispatcher_ms_per_record: float = 10.0  # validate, sign, POST, log one record, on one core
    intake_cache_miss: float = 0.1  # webhooks whose instance is not in the 5 s cache (INSTANCE_CACHE_SECONDS)
    dispatcher_cache_miss_webhook: float = 0.5  # polling jobs always miss: one per instance per interval
    failing_receiver_share: float = 0.01  # callbacks whose receiver is down (retried, held in flight)
    retry_hold_hours: float = 27.6  # the retry schedule: 5 s + 5 m + 30 m + 2 h + 5 h + 10 h + 10 h
    log_bytes_per_webhook: float = 1_500  # app line, Lambda platform lines, API access log
    log_bytes_per_batch: float = 800  # Lambda platform lines of one dispatcher invocation
    log_bytes_per_callback: float = 500  # "callback delivered"
    log_bytes_per_poll: float = 2_500  # platform lines, "poll finished", "polled changes enqueued"
    xray_sampled_share: float = 0.05  # X-Ray's default rule: 1 a second, then 5 %
    # --- the template (template.yaml) -------------------------------------------------------------
    api_memory_mb: int = 512
    dispatcher_memory_mb: int = 512
    poller_memory_mb: int = 512
    dispatcher_max_concurrency: int = 20  # CallbackQueue event source, ScalingConfig
    batch_size: int = 10
    stage_rate_limit: float = 100  # template parameter ApiThrottlingRateLimit (ApiThrottlingBurstLimit 200)
    callback_timeout_seconds: float = 15  # CALLBACK_TIMEOUT_SECONDS, plus LOG_RESERVE_SECONDS below
    log_reserve_seconds: float = 5
    # --- published quotas (docs/capacity.md cites each) ------------------------------------------
    lambda_concurrency_quota: int = 1_000  # per account and Region
    lambda_scaling_per_10s: int = 1_000  # new execution environments per function every 10 s
    scheduler_schedules_quota: int = 10_000_000
    scheduler_invocations_tps: float = 1_000  # us-east-1
    apigw_account_rps: float = 10_000
    sqs_in_flight_quota: int = 120_000
    ddb_partition_wru: float = 1_000
    ddb_new_table_wru: float = 4_000  # a new on-demand table's warm throughput
    ddb_new_table_rru: float = 12_000
    kms_symmetric_rps: float = 100_000  # shared by Decrypt, Encrypt, ...; us-east-1
    secrets_get_rps: float = 10_000
    intercom_app_per_minute: float = 10_000
    intercom_workspace_per_minute: float = 25_000
    instances_per_workspace: int = 1  # instances polling one workspace through one app
    # --- published prices, us-east-1, USD, as recorded on PRICES_RECORDED ---------------------------
    lambda_gb_second: float = 0.0000133334  # arm64
    lambda_per_million: float = 0.20
    http_api_per_million: float = 1.00
    sqs_per_million: float = 0.40  # standard queue, per 64 KB chunk of a request
    ddb_per_million_wru: float = 0.625
    ddb_per_million_rru: float = 0.125
    scheduler_per_million: float = 1.00
    scheduler_free_per_month: float = 14_000_000
    kms_per_10k: float = 0.03
    logs_per_gb: float = 0.50
    xray_per_million_traces: float = 5.00
    custom_metrics: int = 20
    metric_per_month: float = 0.30
    alarms: int = 14
    alarm_per_month: float = 0.10


@dataclass(frozen=True)
class Part:
    name: str
    requests_per_second: float  # invocations (intake: webhooks; dispatcher: batches; poller: polls)
    seconds_per_request: float
    memory_mb: int

    @property
    def concurrency(self) -> float:
        return self.requests_per_second * self.seconds_per_request

    @property
    def gb_seconds_per_month(self) -> float:
        billed = math.ceil(self.seconds_per_request * 1000) / 1000  # Lambda bills whole milliseconds
        return self.requests_per_second * billed * self.memory_mb / 1024 * SECONDS_PER_MONTH


@dataclass(frozen=True)
class Quota:
    name: str
    used: float
    limit: float
    marked: bool = False  # depends on the new checkpoint state

    @property
    def headroom(self) -> float:
        return self.limit / self.used if self.used else math.inf


@dataclass
class Model:
    inputs: Inputs
    parts: list[Part]
    calls: dict[str, float]  # AWS calls a second, "service:Operation"
    wru: float
    rru: float
    quotas: list[Quota]
    costs: dict[str, float]  # USD a month
    figures: dict[str, float]  # the degradation numbers docs/capacity.md explains


def polls_per_second(i: Inputs) -> float:
    return i.polling_instances / (i.poll_interval_minutes * 60)


def poll_shape(i: Inputs) -> dict[str, float]:
    """Expected work of one poll: pages read, records looked up, pages that send, jobs enqueued."""
    read = i.changes_per_poll * i.lookback_factor
    # Each resource with a change sends at least one page and one callback; beyond that, full ones.
    touched = min(i.changes_per_poll, i.resources_per_instance)
    sending_pages = max(touched, i.changes_per_poll / i.page_size)
    jobs = max(touched, i.changes_per_poll / i.events_per_polling_callback)
    return {
        "pages": i.resources_per_instance + read / i.page_size,
        "ids_read": read,
        "sending_pages": sending_pages,
        # A page that sends is a checkpoint, except each pass's last: run() saves the pass's end.
        "checkpoints": sending_pages - touched,
        "jobs": jobs,
        "batch_gets": max(sending_pages, read / 100),  # BatchGetItem takes 100 keys
        "batch_writes": max(sending_pages, i.changes_per_poll / 25),  # BatchWriteItem takes 25
        "sqs_batches": max(sending_pages, jobs / 10),
    }


def model(i: Inputs) -> Model:
    polls = polls_per_second(i)
    shape = poll_shape(i)
    polling_jobs = polls * shape["jobs"]
    jobs = i.webhooks_per_second + polling_jobs
    batches = jobs / i.batch_size
    month = SECONDS_PER_MONTH

    # Intake: verify, normalize, one SendMessage; the instance (GetItem + Decrypt) on a cache miss.
    intake_calls = 1 + 2 * i.intake_cache_miss
    intake = Part(
        "intake (ApiFunction)",
        i.webhooks_per_second,
        (i.intake_ms_measured * i.cpu_factor + intake_calls * i.aws_call_ms) / 1000,
        i.api_memory_mb,
    )
    # Dispatcher: a batch's records run side by side; their CPU does not (one interpreter).
    miss = (i.webhooks_per_second * i.dispatcher_cache_miss_webhook + polling_jobs) / jobs if jobs else 0.0
    record_calls = 2 + 3 * miss  # claim (which keeps the job), record; instance, Decrypt, state on a miss
    batch_seconds = (
        i.dispatcher_ms_per_record * i.batch_size * i.cpu_factor
        + record_calls * i.aws_call_ms
        + i.receiver_ms
    ) / 1000
    dispatcher = Part("dispatcher (DispatcherFunction)", batches, batch_seconds, i.dispatcher_memory_mb)
    # Poller: fixed calls (instance, Decrypt, lock, pollingSince, unlock, status), per resource the
    # cursor read and its final save, the checkpoints [ckpt], and the batch calls.
    poll_calls = (
        6
        + 2 * i.resources_per_instance
        + shape["checkpoints"]
        + shape["batch_gets"]
        + shape["batch_writes"]
        + shape["sqs_batches"]
    )
    poller = Part(
        "poller (PollerFunction)",
        polls,
        (i.poll_ms_measured * i.cpu_factor + poll_calls * i.aws_call_ms + shape["pages"] * i.intercom_page_ms)
        / 1000,
        i.poller_memory_mb,
    )
    parts = [intake, dispatcher, poller]

    failing = jobs * i.failing_receiver_share
    calls = {
        "sqs:SendMessage (intake)": i.webhooks_per_second,
        "sqs:SendMessageBatch (poller)": polls * shape["sqs_batches"],
        "sqs:ReceiveMessage+DeleteMessageBatch (event source)": 2 * batches,
        "sqs:ChangeMessageVisibility (retries)": failing,
        "dynamodb:GetItem": i.webhooks_per_second * i.intake_cache_miss
        + jobs * miss * 2
        + polls * (2 + i.resources_per_instance),
        "dynamodb:UpdateItem/PutItem/DeleteItem": jobs * 2 + polls * (3 + i.resources_per_instance),
        "dynamodb:Batch*Item [ckpt]": polls * (shape["batch_gets"] + shape["batch_writes"]),
        "kms:Decrypt": i.webhooks_per_second * i.intake_cache_miss + jobs * miss + polls,
        "scheduler:invocations": polls,
    }

    # Write units. Event log: claim and record each write the event item, its compressed job with it, and
    # its byTime copy (projection ALL): 1 WRU per KB of the item, four times.
    def event_wru(job_kb: float) -> int:
        return 4 * math.ceil(i.event_item_kb + job_kb * i.job_compression)

    event_log_wru = i.webhooks_per_second * event_wru(i.webhook_job_kb) + polling_jobs * event_wru(
        i.polling_job_kb
    )
    # [ckpt] one seen item per change, the checkpoints, a final cursor save per resource;
    # the lock (put, delete) and the status (update).
    poller_wru = polls * (i.changes_per_poll + shape["checkpoints"] + i.resources_per_instance + 3)
    wru = event_log_wru + poller_wru
    # Read units: strongly consistent reads of items under 4 KB are 1, eventually consistent 0.5.
    rru = (
        i.webhooks_per_second * i.intake_cache_miss * 0.5
        + jobs * miss * 1.0  # instance and delivery state, 0.5 each
        + polls * (0.5 + 1 + i.resources_per_instance + shape["ids_read"])  # [ckpt] seen reads
    )

    lambda_concurrency = sum(p.concurrency for p in parts)
    intercom_calls_per_minute = i.instances_per_workspace * shape["pages"] / i.poll_interval_minutes
    in_flight = _in_flight(i, jobs, batch_seconds)
    in_flight = _in_flight(i, jobs, batch_seconds)
    quotas = [
        Quota("Lambda concurrency, account", lambda_concurrency, i.lambda_concurrency_quota),
        Quota(
            "Dispatcher MaximumConcurrency (template)", dispatcher.concurrency, i.dispatcher_max_concurrency
        ),
        Quota("Scheduler schedules", i.polling_instances, i.scheduler_schedules_quota),
        Quota("Scheduler invocations/s", polls, i.scheduler_invocations_tps),
        Quota("API Gateway rps, account", i.webhooks_per_second, i.apigw_account_rps),
        Quota("API Gateway rps, stage throttle (template)", i.webhooks_per_second, i.stage_rate_limit),
        Quota("SQS messages in flight (steady state)", in_flight, i.sqs_in_flight_quota),
        Quota("DynamoDB WRU/s vs a new table's warm throughput", wru, i.ddb_new_table_wru, True),
        Quota("DynamoDB RRU/s vs a new table's warm throughput", rru, i.ddb_new_table_rru, True),
        Quota("KMS symmetric requests/s", calls["kms:Decrypt"], i.kms_symmetric_rps),
        Quota("Secrets Manager GetSecretValue/s", intake.concurrency / 300, i.secrets_get_rps),
        Quota(
            "Intercom calls/min, one app on one workspace",
            intercom_calls_per_minute,
            i.intercom_app_per_minute,
        ),
    ]

    sqs_requests = sum(v for k, v in calls.items() if k.startswith("sqs:"))
    lambda_requests = sum(p.requests_per_second for p in parts)
    gb_seconds = sum(p.gb_seconds_per_month for p in parts)
    log_bytes = (
        i.webhooks_per_second * i.log_bytes_per_webhook
        + batches * i.log_bytes_per_batch
        + jobs * i.log_bytes_per_callback
        + polls * i.log_bytes_per_poll
    )
    costs = {
        "Lambda compute (arm64 GB-s)": gb_seconds * i.lambda_gb_second,
        "Lambda requests": lambda_requests * month / 1e6 * i.lambda_per_million,
        "HTTP API requests": i.webhooks_per_second * month / 1e6 * i.http_api_per_million,
        "SQS requests": sqs_requests * month / 1e6 * i.sqs_per_million,
        "DynamoDB writes (WRU)": wru * month / 1e6 * i.ddb_per_million_wru,
        "DynamoDB reads (RRU)": rru * month / 1e6 * i.ddb_per_million_rru,
        "Scheduler invocations": max(0.0, polls * month - i.scheduler_free_per_month)
        / 1e6
        * i.scheduler_per_million,
        "KMS requests": calls["kms:Decrypt"] * month / 1e4 * i.kms_per_10k,
        "CloudWatch Logs ingestion": log_bytes * month / 1e9 * i.logs_per_gb,
        "X-Ray traces": lambda_requests * i.xray_sampled_share * month / 1e6 * i.xray_per_million_traces,
        "CloudWatch metrics and alarms": i.custom_metrics * i.metric_per_month + i.alarms * i.alarm_per_month,
    }
    figures = {
        "polls_per_second": polls,
        "jobs_per_second": jobs,
        "polling_events_per_second": polls * i.changes_per_poll,
        "dispatcher_cap_callbacks_per_second": i.dispatcher_max_concurrency * i.batch_size / batch_seconds,
        "dispatcher_concurrency_needed": dispatcher.concurrency,
        "slow_receiver_cap_callbacks_per_second": i.dispatcher_max_concurrency
        * i.batch_size
        / (i.callback_timeout_seconds + i.log_reserve_seconds),
        "in_flight_fill_hours": i.sqs_in_flight_quota / failing / 3600 if failing else math.inf,
        "instance_events_per_second_cap": i.ddb_partition_wru / 2,  # byTime: two writes an event, one key
        "instances_per_app_workspace": i.intercom_app_per_minute * i.poll_interval_minutes / shape["pages"],
        "scheduler_burst_drain_seconds": i.polling_instances / i.scheduler_invocations_tps,
        # Schedules created together fire together: Scheduler then invokes at its TPS quota.
        "poller_concurrency_aligned": min(polls * 60 * i.poll_interval_minutes, i.scheduler_invocations_tps)
        * poller.seconds_per_request,
        "poll_seconds": poller.seconds_per_request,
        "lambda_scaling_seconds_to_need": 10 * lambda_concurrency / i.lambda_scaling_per_10s,
        "writes_per_change_sent": (i.changes_per_poll + shape["checkpoints"]) / i.changes_per_poll
        if i.changes_per_poll
        else 0.0,
    }
    return Model(i, parts, calls, wru, rru, quotas, costs, figures)


def _in_flight(i: Inputs, jobs: float, batch_seconds: float) -> float:
    """Messages received and not yet deleted: the batches being worked on, plus every callback hidden
    until its next retry (SQS counts those as in flight) for as long as the schedule holds it."""
    working = min(i.dispatcher_max_concurrency, jobs / i.batch_size * batch_seconds) * i.batch_size
    return working + jobs * i.failing_receiver_share * i.retry_hold_hours * 3600


def _n(value: float) -> str:
    if value == math.inf:
        return "∞"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


DEGRADATION = [
    (
        "dispatcher cap, callbacks/s (MaximumConcurrency x batch / batch seconds)",
        "dispatcher_cap_callbacks_per_second",
    ),
    ("dispatcher concurrency the load needs", "dispatcher_concurrency_needed"),
    (
        "dispatcher cap when every batch waits out the callback deadline, callbacks/s",
        "slow_receiver_cap_callbacks_per_second",
    ),
    ("hours until failing receivers fill SQS's in-flight quota", "in_flight_fill_hours"),
    ("one instance's events/s before its byTime key throttles", "instance_events_per_second_cap"),
    ("instances of one app polling one workspace, per interval", "instances_per_app_workspace"),
    ("seconds for Scheduler to fire every poll at once", "scheduler_burst_drain_seconds"),
    (
        "poller concurrency if every schedule fires at once (Scheduler TPS x s per poll)",
        "poller_concurrency_aligned",
    ),
    ("seconds of Lambda scaling to reach the concurrency needed", "lambda_scaling_seconds_to_need"),
    ("seconds per poll", "poll_seconds"),
    ("DynamoDB writes per change sent [ckpt]", "writes_per_change_sent"),
]


def render(m: Model) -> str:
    i = m.inputs
    out = [
        f"Load: {i.polling_instances:,} instances polling every {i.poll_interval_minutes:g} min "
        f"({_n(m.figures['polls_per_second'])} polls/s, {_n(m.figures['polling_events_per_second'])} "
        f"changes/s), {i.webhooks_per_second:,g} webhooks/s; {_n(m.figures['jobs_per_second'])} callbacks/s.",
        "",
        "| part | invocations/s | s each | concurrency | GB-s / month |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in m.parts:
        out.append(
            f"| {p.name} | {_n(p.requests_per_second)} | {p.seconds_per_request:.3f} | "
            f"{_n(p.concurrency)} | {_n(p.gb_seconds_per_month)} |"
        )
    out += ["", "| AWS calls | per second |", "|---|---:|"]
    out += [f"| {name} | {_n(rate)} |" for name, rate in m.calls.items()]
    out += [f"| DynamoDB write units [ckpt] | {_n(m.wru)} |", f"| DynamoDB read units [ckpt] | {_n(m.rru)} |"]
    out += ["", "| quota | used | limit | headroom |", "|---|---:|---:|---:|"]
    for q in m.quotas:
        mark = " [ckpt]" if q.marked else ""
        flag = " **binds**" if q.headroom < 1 else ""
        out.append(f"| {q.name}{mark} | {_n(q.used)} | {_n(q.limit)} | {_n(q.headroom)}x{flag} |")
    out += ["", "| monthly cost, us-east-1 | USD |", "|---|---:|"]
    out += [f"| {name} | {_n(usd)} |" for name, usd in m.costs.items()]
    out.append(f"| **total** | **{_n(sum(m.costs.values()))}** |")
    out += [
        "",
        "| what degrades first | figure |",
        "|---|---:|",
    ]
    out += [f"| {label} | {_n(m.figures[key])} |" for label, key in DEGRADATION]
    return "\n".join(out)


def parse(argv: list[str] | None = None) -> Inputs:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    defaults = Inputs()
    for item in fields(Inputs):
        value: Any = getattr(defaults, item.name)
        parser.add_argument(
            f"--{item.name.replace('_', '-')}", type=type(value), default=value, help=f"default {value:g}"
        )
    args = parser.parse_args(argv)
    return replace(defaults, **vars(args))


def main(argv: list[str] | None = None) -> None:
    print(render(model(parse(argv))))


if __name__ == "__main__":
    main()
