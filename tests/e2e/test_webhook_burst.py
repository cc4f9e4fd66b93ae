"""A small burst of the benchmark (benchmarks/webhook_burst.py) through the local stack: 200 signed
webhooks, some resent, 32 at a time, and every one reaches the verifying receiver exactly once."""

from __future__ import annotations

from benchmarks.webhook_burst import ACCESS_TOKEN, SIGNATURE_KEY, burst
from local.stack import LocalStack


def test_a_burst_of_webhooks_arrives_once_each_with_no_connection_error():
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        stack.function_output.echo = False
        stack.intercom.issue_token(token=ACCESS_TOKEN)
        env = stack.environment
        authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
        receiver = stack.receiver(signature_key=SIGNATURE_KEY)  # verifies each callback as it arrives
        report = burst(stack.api_url, authorization, receiver, count=200, concurrency=32)

    assert report.requests > report.webhooks  # resends were among them
    assert (report.connection_errors, report.refused, report.unverified) == (0, 0, 0), report.errors
    assert (report.losses, report.duplicates) == (0, 0)
    assert report.callbacks == 200
