"""The embedded local stack behind `make local` and `make demo`: no AWS account, no Docker.

AWS comes from a moto server in a process of its own; API Gateway, Lambda's SQS event source mapping,
EventBridge Scheduler, a simulated Intercom and a callback receiver are small loopback HTTP servers
and threads; each function's execution environments are child processes, as Lambda's sandboxes.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
