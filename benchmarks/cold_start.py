"""Cold starts end to end, and peak memory, in a Lambda-like layout (issue #13).

Each figure is a new process (benchmarks/lambda_layout.py: the template's runtime Python, `-I -S`, the
function's code, the layer built by layers/core/Makefile for this machine, a runtime holding only boto3)
answering its first request, from spawn to its answer: the interpreter's start, `import app`, the
handler. Its floor is a process in the same layout that imports boto3, makes the same clients and the
same AWS calls (recorded from a warm-up run of the app's process) and the same HTTP requests to the
peers (with urllib), so the ratio is the cost of our code, not of AWS or of the peers. App and floor
runs alternate; each figure is the median. AWS is a moto server on loopback, Intercom the simulated
one (local/intercom.py), the callback receiver local/receiver.py.

`python -m benchmarks.cold_start [--quick] [--json PATH]`.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from intercom_events.intercom.signature import hub_signature

from benchmarks.figures import Figure, emit, median
from benchmarks.lambda_layout import ROOT, Layout, ensure, spawn
from local import template as cfn
from local.aws import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, MotoServer, create_resources
from local.intercom import SimulatedIntercom, make_notification
from local.lambda_runtime import REGION
from local.queue_worker import sqs_record
from local.receiver import CallbackReceiver
from local.stack import DEFAULT_ORGANIZATION_SECRET, DEFAULT_USER_SECRET

RUNS, QUICK_RUNS = 7, 3
EVENTS = ROOT / "events"
CLIENT_SECRET = "sample-client-secret"  # noqa: S105 - the sample events' own
ACCESS_TOKEN = "sample-access-token"  # noqa: S105 - the sample events' own
# Lambda's limit on a synchronous invocation's payload (the request): the largest webhook the api can get
# (API Gateway's HTTP API takes 10 MB; nothing in the intake sets a lower limit).
INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
NEW_CONTACTS_PER_POLL = 3
MEMORY_POLL_CONTACTS = 600  # four full pages of 150
TARGETS = {"webhook": 1.5, "management": 2.0, "dispatcher": 1.5, "poller": 2.0}


def trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


class Bench:
    """The peers (moto, the simulated Intercom, a receiver), the instances, and the processes' runs."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.scratch = Path(tempfile.mkdtemp(prefix="cold-start-"))
        (self.scratch / "home").mkdir()  # HOME: no ~/.aws of the developer's is read
        self.moto = MotoServer().start()
        self.aws = create_resources(self.moto.endpoint_url, name_prefix="bench-cold")
        self.sqs = self.aws.client("sqs")
        self.intercom = SimulatedIntercom().start()
        self.intercom.issue_token(token=ACCESS_TOKEN)
        self.receiver = CallbackReceiver().start()
        self.jobs: list[dict[str, Any]] = []  # webhooks' jobs, kept for the dispatcher
        self._files = 0
        self.overrides: dict[str, str] = {}  # variables over the template's (experiments)

    def close(self) -> None:
        self.receiver.stop()
        self.intercom.stop()
        self.moto.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    # --- the processes ---------------------------------------------------------------------------------

    def environment(self, function: str) -> dict[str, str]:
        """The function's variables as template.yaml sets them (Globals and its own), resolved to the
        resources on moto, with what Lambda adds; the secrets and peers are the local ones."""
        settings = cfn.function(function)
        variables = self.aws.function_variables(function)
        variables.update(
            AWS_ENDPOINT_URL=self.aws.endpoint_url,
            ORGANIZATION_SECRET=DEFAULT_ORGANIZATION_SECRET,
            USER_SECRET=DEFAULT_USER_SECRET,
            CALLBACK_ALLOWED_HOSTS="127.0.0.1",
            ALLOW_HTTP_CALLBACKS="true",
            INTERCOM_API_BASE_URL=self.intercom.url,
        )
        code = str(self.layout.code(function))
        return {
            **variables,
            # What the Lambda runtime sets.
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "AWS_LAMBDA_FUNCTION_NAME": settings.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(settings.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{settings.logical_id}",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{self.layout.python.name.removeprefix('python')}",
            "LAMBDA_TASK_ROOT": code,
            "LAMBDA_RUNTIME_DIR": str(self.layout.runtime),
            "_HANDLER": "app.lambda_handler",
            # No X-Ray daemon: the SDK sends its segments to this UDP port and nothing listens.
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "_X_AMZN_TRACE_ID": trace_id(),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.scratch / "home"),
            **self.overrides,
        }

    def write(self, event: Any) -> str:
        self._files += 1
        path = self.scratch / f"event-{self._files}.json"
        path.write_text(json.dumps(event))
        return str(path)

    def app(self, function: str, events: list[Any], *, record: Path | None = None) -> dict[str, Any]:
        settings = cfn.function(function)
        spec = {
            "mode": "app",
            "events": [self.write(event) for event in events],
            "function_name": settings.logical_id,
            "memory_mb": settings.memory_mb,
            "timeout_seconds": settings.timeout_seconds,
            "record": str(record) if record else None,
        }
        return spawn(self.layout, function, spec, self.environment(function))

    def imports(self, function: str, modules: list[str]) -> dict[str, Any]:
        return spawn(
            self.layout, function, {"mode": "imports", "modules": modules}, self.environment(function)
        )

    def floor(self, function: str, trace: Path) -> dict[str, Any]:
        return spawn(
            self.layout, function, {"mode": "floor", "trace": str(trace)}, self.environment(function)
        )

    # --- events and checks -----------------------------------------------------------------------------

    def drain(self) -> list[dict[str, Any]]:
        """Every message on the callback queue, taken off it."""
        taken: list[dict[str, Any]] = []
        while True:
            got = (
                self.sqs.receive_message(
                    QueueUrl=self.aws.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=900,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages")
                or []
            )
            if not got:
                return taken
            taken += got
            self.sqs.delete_message_batch(
                QueueUrl=self.aws.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
            )

    def create_instance(self, sample: str, **configuration: Any) -> int:
        event = api_event(sample)
        body = json.loads(event["body"])
        body["configuration"].update(
            {
                "intercom.access.token": ACCESS_TOKEN,
                "event.notification.callback.url": f"{self.receiver.url}/callbacks",
                **configuration,
            }
        )
        event["body"] = json.dumps(body)
        answer = self.app("api", [event])["answers"][0]
        if answer["statusCode"] not in (200, 201):
            raise RuntimeError(f"creating an instance answered {answer}")
        return int(json.loads(answer["body"])["id"])

    def webhook(self, instance_id: int, item: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        item = item or json.loads(api_event("webhook_contact_created")["body"])["data"]["item"]
        notification = make_notification("contact.user.created", item, app_id="sampleapp")
        body = json.dumps(notification, separators=(",", ":"))
        encoded = base64.b64encode(str(instance_id).encode()).decode()
        event = api_event("webhook_contact_created", path=f"events/intercom/{encoded}", body=body)
        event["headers"]["x-hub-signature"] = hub_signature(body.encode(), CLIENT_SECRET)
        return event, str(notification["id"])

    def poll_changes(self, count: int) -> None:
        """New contacts, dated a second back (the poll reads up to its start)."""
        at = int(time.time()) - 1
        for _ in range(count):
            self.intercom.workspace.create("contacts", created_at=at, updated_at=at)

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [sqs_record(m, queue_arn=self.aws.queue_arn, region=REGION) for m in messages]}


def api_event(name: str, *, path: str | None = None, body: str | None = None) -> dict[str, Any]:
    """events/api/<name>.json, its path (under /elements/api-v2/) and body replaced when given."""
    event: dict[str, Any] = json.loads((EVENTS / "api" / f"{name}.json").read_text())
    if path is not None:
        full = f"/elements/api-v2/{path}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = full
        event["pathParameters"] = {"proxy": path}
    if body is not None:
        event["body"] = body
    return event


def problems(result: dict[str, Any]) -> int:
    """Log lines of a run at WARNING or above, or a traceback's (X-Ray without its daemon must add none)."""
    return sum(
        '"level":"WARNING"' in line or '"level":"ERROR"' in line or line.startswith("Traceback")
        for line in result["log"].splitlines()
    )


def call_names(trace: list[dict[str, Any]]) -> dict[str, int]:
    names = Counter(
        f"{call['aws'][0]}:{call['aws'][1]}"
        if "aws" in call
        else f"HTTP {call['http'][0]} {urlsplit(call['http'][1]).path.split('/')[1] or '/'}"
        for call in trace
    )
    return dict(sorted(names.items()))


def cold_figure(
    bench: Bench,
    key: str,
    function: str,
    label: str,
    runs: int,
    make_event: Callable[[], Any],
    check: Callable[[dict[str, Any], Any], None],
    after_floor: Callable[[], None] = lambda: None,
) -> Figure:
    """A warm-up run of the app's process records its calls; then app and floor runs alternate."""
    trace_path = bench.scratch / f"{key}.trace.json"
    event = make_event()
    check(bench.app(function, [event], record=trace_path), event)
    trace = json.loads(trace_path.read_text())
    apps, floors = [], []
    for _ in range(runs):
        event = make_event()
        result = bench.app(function, [event])
        check(result, event)
        apps.append(result)
        floors.append(bench.floor(function, trace_path))
        after_floor()
    calls = call_names(trace)
    http = sum(count for name, count in calls.items() if name.startswith("HTTP"))
    return Figure(
        key=f"cold.{key}",
        label=label,
        value=median([r["wall_ms"] for r in apps]),
        unit="ms",
        floor=median([r["wall_ms"] for r in floors]),
        floor_label=f"import boto3, the same clients and {len(trace) - http} AWS calls"
        + (f", {http} HTTP requests (urllib)" if http else ""),
        target=TARGETS[key.split(".")[-1]],
        runs=runs,
        note=(
            "From spawning a new process to its answer, in the Lambda-like layout "
            "(benchmarks/lambda_layout.py); the floor makes the calls the app's process made, recorded "
            "in a warm-up run, with the same parameters, and the same HTTP requests to the local peers "
            "with urllib, so the ratio is our code's cost. Tracing on as template.yaml sets it (no X-Ray "
            "daemon: segments go to a UDP port nobody reads; nothing errs or waits)."
        ),
        details={
            "import app ms (inside the process)": round(median([r["import_ms"] for r in apps]), 1),
            "floor: import boto3 ms": round(median([r["import_ms"] for r in floors]), 1),
            "app: in-process ms": round(median([r["inside_ms"] for r in apps]), 1),
            "floor: in-process ms": round(median([r["inside_ms"] for r in floors]), 1),
            "app peak RSS MB": round(median([r["maxrss_kb"] for r in apps]) / 1024, 1),
            "floor peak RSS MB": round(median([r["maxrss_kb"] for r in floors]) / 1024, 1),
            "app log lines at WARNING or above, all runs": sum(map(problems, apps)),
            "calls": calls,
        },
    )


# Where a cold start's import time goes, library by library in the order each app imports them: each
# module's time is what it adds to those before it (boto3 first: the floor pays for it too). The order
# matters: Powertools' batch utility imports its pydantic models of every event source when pydantic is
# already loaded, and `import pydantic` alone defers its machinery to pydantic.main (BaseModel).
COMMON = [
    "pydantic.main",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_xray_sdk.core",
    "aws_lambda_powertools.tracing",
]
MODELS = "intercom_events.models.instance"
IMPORTED = {
    "api": ["boto3", "aws_lambda_powertools.event_handler", *COMMON, MODELS, "app"],
    "dispatcher": [
        "boto3",
        "asyncio",
        "aws_lambda_powertools.utilities.batch",
        *COMMON,
        "httpx",
        MODELS,
        "app",
    ],
    "poller": ["boto3", *COMMON, "httpx", MODELS, "app"],
}


def import_breakdown(bench: Bench, function: str, runs: int) -> dict[str, float]:
    """Milliseconds each module adds, median of `runs` new processes."""
    results = [bench.imports(function, IMPORTED[function])["imports"] for _ in range(runs)]
    return {name: round(median([r[i][1] for r in results]), 1) for i, name in enumerate(IMPORTED[function])}


def explain(figure: Figure, breakdown: dict[str, float]) -> None:
    """The breakdown in the figure's details; for a missed target, the note says where the time goes."""
    figure.details["imports in order, ms each adds"] = breakdown
    if figure.met is not False or figure.ratio is None or figure.target is None:
        return
    over = figure.value - figure.target * (figure.floor or 0)
    beyond = sum(ms for name, ms in breakdown.items() if name != "boto3")
    own = breakdown["app"] + breakdown[MODELS]
    details = figure.details
    first_ms = details["app: in-process ms"] - details["import app ms (inside the process)"]
    calls_ms = details["floor: in-process ms"] - details["floor: import boto3 ms"]
    libraries = beyond - own
    figure.note += (
        f" Missed by {over:.0f} ms ({figure.ratio:.2f}x against {figure.target:g}x). The process imports "
        f"{beyond:.0f} ms more than boto3 alone; {libraries:.0f} ms of it are the libraries the function is "
        f"built on (Powertools, pydantic, the X-Ray SDK{', httpx' if 'httpx' in breakdown else ''}: see the "
        f"details), {own:.0f} ms the project's own modules (its models {breakdown[MODELS]:.0f}). The "
        f"first request, once imported, took {first_ms:.0f} ms where the floor's clients and calls took "
        f"{calls_ms:.0f}. What is left would take a function built on fewer libraries, or Lambda "
        "SnapStart (Python 3.12 and later), which restores an environment already past its imports."
    )


def cold_starts(bench: Bench, runs: int) -> list[Figure]:
    webhook_instance = bench.create_instance("create_instance_token")
    bench.drain()

    def check_webhook(result: dict[str, Any], event: Any) -> None:
        answer = result["answers"][0]
        notification = json.loads(event["body"])["id"]
        jobs = [m for m in bench.drain() if notification in m["Body"]]
        if answer["statusCode"] != 200 or len(jobs) != 1:
            raise RuntimeError(
                f"the webhook answered {answer} with {len(jobs)} job(s) queued:\n{result['log']}"
            )
        bench.jobs += jobs

    def check_ok(result: dict[str, Any], event: Any) -> None:
        if result["answers"][0]["statusCode"] != 200:
            raise RuntimeError(f"answered {result['answers'][0]}:\n{result['log']}")

    def discard() -> None:
        bench.drain()

    webhook = cold_figure(
        bench,
        "api.webhook",
        "api",
        "api: a webhook as the first request of a new process",
        runs,
        lambda: bench.webhook(webhook_instance)[0],
        check_webhook,
        discard,
    )
    management = cold_figure(
        bench,
        "api.management",
        "api",
        "api: a management call (GET /instances/{id}) as the first request of a new process",
        runs,
        lambda: api_event("get_instance", path=f"instances/{webhook_instance}"),
        check_ok,
    )

    def next_job() -> Any:
        return bench.sqs_event([bench.jobs.pop(0)])

    def check_delivered(result: dict[str, Any], event: Any) -> None:
        failures = result["answers"][0].get("batchItemFailures")
        expected = json.loads(event["Records"][0]["body"])["eventId"]
        delivered = any(expected in r.body.decode(errors="replace") for r in bench.receiver.requests)
        if failures or not delivered:
            raise RuntimeError(
                f"the dispatcher answered {result['answers']}, delivered: {delivered}:\n{result['log']}"
            )

    dispatcher = cold_figure(
        bench,
        "dispatcher",
        "dispatcher",
        "dispatcher: a one-record batch (one callback delivered) as the first invocation of a new process",
        runs,
        next_job,
        check_delivered,
    )

    polling_instance = bench.create_instance("create_instance_polling")
    bench.drain()

    def next_poll() -> Any:
        bench.poll_changes(NEW_CONTACTS_PER_POLL)
        return {
            **json.loads((EVENTS / "poller" / "scheduled_poll.json").read_text()),
            "instanceId": polling_instance,
        }

    def check_polled(result: dict[str, Any], event: Any) -> None:
        jobs = bench.drain()
        if not jobs:
            raise RuntimeError(f"the poll queued nothing: {result['answers']}:\n{result['log']}")

    time.sleep(2)  # the new contacts must be dated after polling began
    poller = cold_figure(
        bench,
        "poller",
        "poller",
        f"poller: one poll ({NEW_CONTACTS_PER_POLL} new contacts) as the first invocation of a new process",
        runs,
        next_poll,
        check_polled,
        discard,
    )
    breakdowns = {function: import_breakdown(bench, function, min(runs, 3)) for function in IMPORTED}
    for figure, function in (
        (webhook, "api"),
        (management, "api"),
        (dispatcher, "dispatcher"),
        (poller, "poller"),
    ):
        explain(figure, breakdowns[function])
    return [webhook, management, dispatcher, poller]


def largest_webhook(bench: Bench, instance_id: int) -> tuple[dict[str, Any], str]:
    """A webhook whose invocation payload is as large as Lambda takes (one long attribute in the item)."""
    item: dict[str, Any] = {
        "type": "contact",
        "id": uuid.uuid4().hex[:24],
        "role": "user",
        "custom_attributes": {"notes": ""},
    }
    event, _ = bench.webhook(instance_id, item)
    room = (
        INVOKE_PAYLOAD_BYTES - len(json.dumps(event).encode()) - 1024
    )  # room for the id's and signature's change
    item["custom_attributes"]["notes"] = "x" * room
    return bench.webhook(instance_id, item)


def memory_figure(
    function: str, label: str, result: dict[str, Any], what: str, extra: dict[str, Any] | None = None
) -> Figure:
    memory_mb = cfn.function(function).memory_mb
    return Figure(
        key=f"memory.{function}",
        label=label,
        value=round(result["maxrss_kb"] / 1024, 1),
        unit="MB",
        target=memory_mb,
        note=(
            "Peak RSS (VmHWM: Linux keeps ru_maxrss across exec, the parent's peak with it) of one new "
            f"process in the Lambda-like layout on {what}; the target is the MemorySize template.yaml "
            f"gives the function ({memory_mb} MB)."
        ),
        details={
            "wall ms": round(result["wall_ms"], 1),
            "import app ms": round(result["import_ms"], 1),
            **(extra or {}),
        },
    )


def memory(bench: Bench) -> list[Figure]:
    instance = bench.create_instance("create_instance_token")
    bench.drain()
    event, _ = largest_webhook(bench, instance)
    size = len(json.dumps(event).encode())
    api = bench.app("api", [event])
    if api["answers"][0]["statusCode"] != 200:
        raise RuntimeError(f"the largest webhook answered {api['answers'][0]}:\n{api['log']}")
    bench.drain()
    # Ten of the largest jobs, made by one process, for the dispatcher's largest batch.
    made = bench.app("api", [largest_webhook(bench, instance)[0] for _ in range(10)])
    jobs = bench.drain()
    if len(jobs) != 10 or any(a["statusCode"] != 200 for a in made["answers"]):
        raise RuntimeError(f"ten largest webhooks made {len(jobs)} jobs: {made['answers']}")
    before = len(bench.receiver.requests)
    dispatcher = bench.app("dispatcher", [bench.sqs_event(jobs)])
    delivered = len(bench.receiver.requests) - before
    failed = dispatcher["answers"][0].get("batchItemFailures") or []
    if delivered != 10:
        raise RuntimeError(
            f"the largest batch: {dispatcher['answers']}, {delivered} delivered:\n{dispatcher['log']}"
        )
    # Reported, not fatal: a record reported failed after its callback went out (seen with tracing on).
    errors = Counter(
        json.loads(line).get("error", "")
        for line in dispatcher["log"].splitlines()
        if line.startswith("{") and '"callback failed' in line
    )
    job_bytes = max(len(m["Body"].encode()) for m in jobs)

    polling = bench.create_instance("create_instance_polling")
    bench.drain()
    time.sleep(2)  # the contacts must be dated after polling began
    at = int(time.time()) - 1
    bench.intercom.workspace.seed("contacts", MEMORY_POLL_CONTACTS, start=at, spacing=0)
    poller = bench.app("poller", [{"instanceId": polling}])
    queued = bench.drain()
    if not queued:
        raise RuntimeError(f"the largest poll queued nothing: {poller['answers']}:\n{poller['log']}")
    return [
        memory_figure(
            "api",
            "api: peak memory on the largest webhook",
            api,
            f"a webhook whose invocation is {size:,} bytes (Lambda's "
            "6 MiB payload limit; the intake sets none lower)",
        ),
        memory_figure(
            "dispatcher",
            "dispatcher: peak memory on the largest batch",
            dispatcher,
            f"a batch of 10 of the largest jobs (their bodies in S3, store/queue.py's pointer past "
            f"MAX_MESSAGE_BYTES; {job_bytes} B on the queue each), delivered to a local receiver"
            + (
                f". {len(failed)} of the 10 records were reported failed though their callbacks went out "
                f"({', '.join(errors)}); with tracing on, as template.yaml sets it, concurrent deliveries "
                "trip the X-Ray SDK"
                if failed
                else ""
            ),
            {
                "callbacks received": delivered,
                "records reported failed": len(failed),
                "their errors": dict(errors),
            },
        ),
        memory_figure(
            "poller",
            "poller: peak memory on a poll of full pages",
            poller,
            f"one poll reading {MEMORY_POLL_CONTACTS} changed contacts (full pages of 150), "
            f"{len(queued)} jobs queued",
        ),
    ]


def run(quick: bool = False) -> list[Figure]:
    layout, build_seconds = ensure()
    bench = Bench(layout)
    try:
        started = time.monotonic()
        figures = cold_starts(bench, QUICK_RUNS if quick else RUNS)
        figures += memory(bench)
        elapsed = time.monotonic() - started
    finally:
        bench.close()
    for figure in figures:
        figure.details["layout ready s (layer build when stale)"] = round(build_seconds, 1)
        figure.details["module s"] = round(elapsed, 1)
    return figures


if __name__ == "__main__":
    emit(run("--quick" in sys.argv))
