"""The embedded local stack behind `make local` and `make demo`: no AWS account, no Docker.

AWS comes from an in-process moto server; API Gateway, Lambda's SQS event source mapping, a
simulated Intercom and a callback receiver are small loopback HTTP servers and threads.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project package lives in the Lambda layer's folder, as in the deployed functions.
_LAYER = str(REPO_ROOT / "layers" / "core")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
