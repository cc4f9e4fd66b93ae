"""Issue #12's rate limit at its own numbers: a poll of 10,000 changes to a receiver limited to 5 a second.

Run: `make bench-rate` (or `.venv/bin/python -m benchmarks.bench_rate --changes 2000 --rate 20`). It starts
the local stack (the dispatcher's five execution environments side by side, the poller, the embedded AWS),
creates a polling instance with `event.notification.rate.limit`, changes the contacts in the simulated
workspace at one instant, polls through the API and waits for every callback at a signature-checking
receiver. It prints what arrived (each change exactly once, checked), the achieved rate as a ratio to the
limit, the busiest one-second window (the limit allows r + 1 in a closed second), and the callbacks the
dispatchers re-sent to wait for their slot. Figures only; exit status 1 when a change was lost or came
twice, or a signature failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import httpx

from local.receiver import CallbackReceiver, verify_signatures
from local.stack import DISPATCHER_CONCURRENCY, LocalStack

SIGNATURE_KEY = "rate-signature-key"
EVENTS_PER_CALLBACK = 10  # a poll's callback carries up to ten changes


def busiest_second(times: list[float], window: float = 1.0) -> int:
    """The most arrivals in any closed window of one second (or of `window` seconds)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def crowded_seconds(times: list[float], allowed: int) -> list[tuple[float, int]]:
    """Where a closed second starting at an arrival holds more than `allowed`: (start, count), apart."""
    times = sorted(times)
    found: list[tuple[float, int]] = []
    end = 0
    for start, t in enumerate(times):
        while end < len(times) and times[end] - t <= 1.0:
            end += 1
        if end - start > allowed and (not found or t - found[-1][0] > 1.0):
            found.append((t, end - start))
    return found


def paced_instance(
    stack: LocalStack, api: httpx.Client, receiver_url: str, rate: float | None, signature_key: str
) -> int:
    """A polling instance of contacts, its callbacks to `receiver_url` at most `rate` a second (None: no
    limit); once the clock has left its creation second, so what changes from now on is newer."""
    configuration: dict[str, object] = {
        "authentication.type": "token",
        "intercom.access.token": stack.intercom.issue_token(),
        "event.notification.enabled": True,
        "event.vendor.type": "polling",
        "event.objects": "contacts",
        "event.notification.callback.url": f"{receiver_url}/events",
        "event.notification.signature.key": signature_key,
    }
    if rate is not None:
        configuration["event.notification.rate.limit"] = rate
    answer = api.post(
        "/instances", json={"element": {"key": "intercom"}, "name": "paced", "configuration": configuration}
    )
    answer.raise_for_status()
    time.sleep(1.1)
    return int(answer.json()["id"])


def run(changes: int, rate: float, deadline_seconds: float) -> int:
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "INFO"}) as stack:
        stack.function_output.echo = False
        env = stack.environment
        authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
        receiver = CallbackReceiver(signature_key=SIGNATURE_KEY).start()
        try:
            with httpx.Client(
                base_url=stack.api_url, headers={"Authorization": authorization}, timeout=30
            ) as api:
                instance_id = paced_instance(stack, api, receiver.url, rate, SIGNATURE_KEY)
                workspace = stack.intercom.workspace
                made = workspace.seed("contacts", changes, start=int(time.time()) - 86400, spacing=0)
                changed = workspace.bulk_update("contacts", [c["id"] for c in made], name="imported")
                expected = Counter(
                    (c["id"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["updated_at"])))
                    for c in changed
                )
                callbacks = -(-changes // EVENTS_PER_CALLBACK)
                print(
                    f"{changes:,} changes -> {callbacks:,} callbacks, limit {rate:g} a second, "
                    f"{DISPATCHER_CONCURRENCY} dispatcher environments; at the limit that is "
                    f"{(callbacks - 1) / rate:,.0f} s"
                )
                started = time.monotonic()
                api.post(f"/instances/{instance_id}/poll").raise_for_status()
                quiet, count = time.monotonic(), 0
                while time.monotonic() - started < deadline_seconds:
                    time.sleep(1.0)
                    if len(receiver.requests) != count:
                        quiet, count = time.monotonic(), len(receiver.requests)
                    elif count >= callbacks and time.monotonic() - quiet > 5:
                        break
        finally:
            receiver.stop()
        requests = receiver.requests
        lines = stack.function_output.lines

    got: Counter[tuple[str, str]] = Counter()
    unverified = 0
    for request in requests:
        try:
            body = verify_signatures(request, SIGNATURE_KEY)
        except Exception:
            unverified += 1
            continue
        got.update((e["objectId"], e["date"]) for e in body["message"]["events"])
    times = sorted(r.received_at for r in requests)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span else float("inf")
    deferred = sum('"callback deferred to its rate-limit slot"' in line.text for line in lines)
    errors = [line.text for line in lines if '"level":"ERROR"' in line.text]
    lost, extra = sum((expected - got).values()), sum((got - expected).values())
    print(
        f"arrived: {len(requests):,} callbacks, {sum(got.values()):,} changes; lost {lost}, "
        f"duplicated {extra}, signatures failed {unverified}"
    )
    print(
        f"achieved: {achieved:.2f} callbacks a second over {span:,.1f} s = {achieved / rate:.3f} x the "
        f"limit; busiest second: {busiest_second(times)} callbacks (the limit allows {int(rate) + 1} in a "
        "closed second)"
    )
    crowded = crowded_seconds(times, int(rate) + 1)
    print(
        f"seconds over the limit's r + 1: {len(crowded)}"
        + "".join(f"; at {at - times[0]:.1f} s: {n}" for at, n in crowded[:5])
    )
    print(f"re-sent to wait for their slot: {deferred:,} times; function ERROR lines: {len(errors)}")
    for line in errors[:5]:
        print(f"  {line[:300]}")
    return 0 if not (lost or extra or unverified) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--changes", type=int, default=10_000, help="contacts changed at once (default 10,000)"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="event.notification.rate.limit (default 5)")
    parser.add_argument(
        "--deadline", type=float, default=1800.0, help="seconds to wait at most (default 1,800)"
    )
    args = parser.parse_args(argv)
    return run(args.changes, args.rate, args.deadline)


if __name__ == "__main__":
    sys.exit(main())
