"""boto3 clients, made once per process on first use and reused across warm invocations.

boto3 is imported here only, and lazily, so modules that never touch AWS do not pay for it.
AWS_ENDPOINT_URL (boto3's own setting) points every client at a moto server for local runs.

Every client comes from one Session per process: a Session loads each service's model once and
keeps it, where a Session per client read it again (most of the cost of a client, about 80 ms).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_lock = threading.Lock()  # boto3 documents a Session as unsafe to share between threads unguarded
_session: Any = None


def new_client(service: str, **options: Any) -> Any:
    """A client made afresh from the process's one Session (boto3's `Session.client` options)."""
    global _session
    with _lock:
        if _session is None:
            import boto3

            _session = boto3.session.Session()
        return _session.client(service, **options)


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    # Short timeouts and standard retries: a slow AWS call must not eat Intercom's 5 s budget.
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return new_client(service, config=config)


def reset() -> None:
    """Forget every client (tests that switch between moto backends); the Session and the service
    models it has loaded stay, as the environment's credentials do for a process."""
    client.cache_clear()
