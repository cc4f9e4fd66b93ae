"""A burst of signed Intercom webhooks through the local stack, counted at a verifying receiver.

Run: `make bench-webhooks` (3,000 webhooks, 32 at a time, on a local stack of its own), or
`.venv/bin/python -m benchmarks.webhook_burst --count 500 --concurrency 16`, or against a running
`make local`: `--api-url http://127.0.0.1:3000/elements/api-v2` (its printed secrets and simulated
Intercom token are the defaults here; see --help).

It creates a webhook instance whose callbacks go to a receiver on loopback, sends the notifications
with X-Hub-Signature from `--concurrency` clients at once (one notification in ten sent three times,
as Intercom resends one it got no quick 200 for), waits until the receiver stops getting callbacks,
checks both signatures of every callback, and prints connection errors, refused webhooks, losses,
duplicates and throughput. Exit status 1 unless all of those counts are 0. Figures only: nothing
here is a timed test (tests/e2e/test_webhook_burst.py runs a small burst for its counts).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from local.intercom import WEBHOOK_USER_AGENT, make_notification
from local.receiver import CallbackReceiver
from local.stack import DEFAULT_ORGANIZATION_SECRET, DEFAULT_USER_SECRET

ROOT = Path(__file__).resolve().parents[1]

SIGNATURE_KEY = "burst-signature-key"
CLIENT_SECRET = "local-client-secret"  # noqa: S105 - `make local`'s simulated Intercom app
ACCESS_TOKEN = "local-access-token"  # noqa: S105 - `make local`'s simulated Intercom token
RESENT_EVERY = 10  # one notification in ten...
COPIES = 3  # ...goes out three times
INTERCOM_PATIENCE_SECONDS = 5.0  # Intercom resends when it gets no 200 within this


@dataclass
class Report:
    webhooks: int = 0  # distinct notifications
    requests: int = 0  # webhook requests sent, resends included
    connection_errors: int = 0
    refused: int = 0  # answered, but not 200
    callbacks: int = 0
    losses: int = 0
    duplicates: int = 0
    unverified: int = 0
    slower_than_intercom_waits: int = 0
    send_seconds: float = 0.0
    drain_seconds: float = 0.0  # from the first webhook sent to the last callback received
    webhooks_per_second: float = 0.0
    callbacks_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    function_errors: list[str] = field(default_factory=list)  # ERROR lines the functions logged

    @property
    def clean(self) -> bool:
        return not (
            self.connection_errors or self.refused or self.losses or self.duplicates or self.unverified
        )


def verifying_receiver() -> CallbackReceiver:
    """The integrator's endpoint: both signatures checked as each callback arrives, 401 when one fails."""
    return CallbackReceiver(signature_key=SIGNATURE_KEY)


def create_instance(
    client: httpx.Client, receiver: CallbackReceiver, access_token: str, client_secret: str
) -> str:
    """A webhook instance of a private app (its access token), callbacks to `receiver`; its webhook URL."""
    answer = client.post(
        "/instances",
        json={
            "element": {"key": "intercom"},
            "name": "webhook burst",
            "configuration": {
                "authentication.type": "token",
                "intercom.access.token": access_token,
                "oauth.api.secret": client_secret,
                "event.notification.enabled": True,
                "event.vendor.type": "webhook",
                "event.notification.callback.url": f"{receiver.url}/burst",
                "event.notification.signature.key": SIGNATURE_KEY,
            },
        },
    )
    if answer.status_code != 200:
        raise RuntimeError(f"creating the instance: {answer.status_code} {answer.text}")
    return str(answer.json()["webhookUrl"])


def burst(
    api_url: str,
    authorization: str,
    receiver: CallbackReceiver,
    *,
    count: int,
    concurrency: int,
    access_token: str = ACCESS_TOKEN,
    client_secret: str = CLIENT_SECRET,
    quiet_seconds: float = 10.0,
    deadline_seconds: float = 900.0,
    seed: int = 1,
) -> Report:
    """Sends `count` notifications (and the resends) through the API at `api_url`; counts at `receiver`
    (a started `verifying_receiver()`)."""
    from intercom_events.intercom.signature import hub_signature

    report = Report(webhooks=count)
    with httpx.Client(base_url=api_url, headers={"Authorization": authorization}, timeout=30) as management:
        webhook_url = create_instance(management, receiver, access_token, client_secret)

    bodies: dict[str, bytes] = {}
    for number in range(count):
        notification = make_notification(
            "contact.user.created", {"type": "contact", "id": f"burst-{number}"}, app_id="burst"
        )
        bodies[notification["id"]] = json.dumps(notification).encode()
    sends = [
        nid for number, nid in enumerate(bodies) for _ in range(COPIES if number % RESENT_EVERY == 0 else 1)
    ]
    random.Random(seed).shuffle(sends)  # copies race their original, as a resend does
    report.requests = len(sends)

    latencies: list[float] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=30, limits=limits) as http:

        def send(notification_id: str) -> None:
            body = bodies[notification_id]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": WEBHOOK_USER_AGENT,
                "X-Hub-Signature": hub_signature(body, client_secret),
            }
            started = time.perf_counter()
            try:
                answer = http.post(webhook_url, content=body, headers=headers)
            except httpx.TransportError as error:
                with lock:
                    report.connection_errors += 1
                    report.errors.append(f"{type(error).__name__}: {error}")
                return
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed * 1000)
                if elapsed > INTERCOM_PATIENCE_SECONDS:
                    report.slower_than_intercom_waits += 1
                if answer.status_code != 200:
                    report.refused += 1
                    report.errors.append(f"{answer.status_code} {answer.text[:200]}")

        wall_start, started = time.time(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(send, sends))
        report.send_seconds = round(time.perf_counter() - started, 1)

    # Drained when every notification arrived, then nothing more for a while (a late duplicate shows).
    last_count, last_change = -1, time.monotonic()
    end = time.monotonic() + deadline_seconds
    while time.monotonic() < end:
        arrived = len(receiver.requests)
        if arrived != last_count:
            last_count, last_change = arrived, time.monotonic()
        quiet = time.monotonic() - last_change
        if quiet >= quiet_seconds or (arrived >= count and quiet >= min(3.0, quiet_seconds)):
            break
        time.sleep(0.2)
    arrivals = [request.received_at for request in receiver.requests]
    report.drain_seconds = round(max(arrivals) - wall_start, 1) if arrivals else 0.0

    delivered: Counter[str] = Counter()
    for request in receiver.requests:
        if request.verified is not True:  # checked on arrival (see verifying_receiver)
            report.unverified += 1
            continue
        delivered[str(request.json()["message"]["raw"]["id"])] += 1
    report.callbacks = sum(delivered.values())
    report.losses = sum(1 for notification_id in bodies if notification_id not in delivered)
    report.duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    report.webhooks_per_second = (
        round(report.requests / report.send_seconds, 1) if report.send_seconds else 0.0
    )
    report.callbacks_per_second = (
        round(report.callbacks / report.drain_seconds, 1) if report.drain_seconds else 0.0
    )
    if latencies:
        ordered = sorted(latencies)
        report.latency_ms = {
            "p50": round(statistics.median(ordered), 1),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
            "max": round(ordered[-1], 1),
        }
    report.errors = report.errors[:10]
    return report


def on_make_local(count: int, concurrency: int) -> Report:
    """Starts `make local` (`python -m local`) on a free port, bursts it, stops it: the stack in a process
    of its own, as a developer runs it, and the clients and the receiver here."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "LOCAL_API_PORT": str(port), "POWERTOOLS_LOG_LEVEL": "WARNING"}
    stack = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert stack.stdout is not None
    api_url, errors = "", []
    for line in stack.stdout:
        if '"local stack started"' in line:
            api_url = json.loads(line)["apiUrl"]
            break
    if not api_url:
        raise RuntimeError(f"make local did not start (exit status {stack.wait()})")

    def read_the_log() -> None:
        assert stack.stdout is not None
        for line in stack.stdout:
            if _is_error(line):
                errors.append(line.strip()[:300])

    reader = threading.Thread(target=read_the_log, daemon=True)
    reader.start()
    try:
        authorization = f"User {DEFAULT_USER_SECRET}, Organization {DEFAULT_ORGANIZATION_SECRET}"
        with verifying_receiver() as receiver:
            report = burst(api_url, authorization, receiver, count=count, concurrency=concurrency)
    finally:
        stack.terminate()
        stack.wait(timeout=120)
        reader.join(timeout=10)
    report.function_errors = errors[:10]
    return report


def _is_error(text: str) -> bool:
    try:
        line = json.loads(text)
    except ValueError:
        return "Traceback" in text
    return isinstance(line, dict) and line.get("level") in ("ERROR", "CRITICAL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="distinct notifications (default 3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at once (default 32)")
    parser.add_argument("--api-url", help="a running `make local`'s API (default: start a stack here)")
    parser.add_argument("--user-secret", default=DEFAULT_USER_SECRET, help="with --api-url")
    parser.add_argument("--organization-secret", default=DEFAULT_ORGANIZATION_SECRET, help="with --api-url")
    parser.add_argument("--access-token", default=ACCESS_TOKEN, help="the simulated Intercom's token")
    parser.add_argument("--client-secret", default=CLIENT_SECRET, help="the secret Intercom signs with")
    args = parser.parse_args(argv)

    if args.api_url:
        authorization = f"User {args.user_secret}, Organization {args.organization_secret}"
        with verifying_receiver() as receiver:
            report = burst(
                args.api_url.rstrip("/"),
                authorization,
                receiver,
                count=args.count,
                concurrency=args.concurrency,
                access_token=args.access_token,
                client_secret=args.client_secret,
            )
    else:
        report = on_make_local(args.count, args.concurrency)

    print(json.dumps(asdict(report), indent=2))
    print(
        f"{report.requests} webhooks ({report.webhooks} distinct) at {args.concurrency} at once: "
        f"{report.connection_errors} connection errors, {report.refused} refused, {report.losses} lost, "
        f"{report.duplicates} duplicates, {report.unverified} unverified; "
        f"{report.webhooks_per_second} webhooks/s in, {report.callbacks_per_second} callbacks/s out "
        f"({report.drain_seconds:.1f} s to drain)"
    )
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
