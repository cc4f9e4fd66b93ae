"""boto3 clients, made once per process on first use and reused across warm invocations.

boto3 is imported here only, and lazily, so modules that never touch AWS do not pay for it.
AWS_ENDPOINT_URL (boto3's own setting) points every client at a moto server for local runs.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts and standard retries: a slow AWS call must not eat Intercom's 5 s budget.
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def reset() -> None:
    """Forget every client (tests that switch between moto backends)."""
    client.cache_clear()
