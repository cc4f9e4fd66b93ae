"""The embedded local stack behind `make local` and `make demo`: no AWS account, no Docker.

AWS comes from a moto server in a process of its own; API Gateway, Lambda's SQS event source mapping,
EventBridge Scheduler, a simulated Intercom and a callback receiver are small loopback HTTP servers
and threads; each function's execution environments are child processes, as Lambda's sandboxes.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project package lives in the Lambda layer's folder, as in the deployed functions.
_LAYER = str(REPO_ROOT / "layers" / "core")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
