"""What the in-process benchmarks share: the functions' environment over moto, and their handlers.

`prepare()` runs before anything imports the project package or Powertools, which read the
environment when first imported.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "ORGANIZATION_SECRET": "dev-organization-secret",
    "USER_SECRET": "dev-user-secret",
    "CALLBACK_ALLOWED_HOSTS": "127.0.0.1,localhost,app.example.com",
    "ALLOW_HTTP_CALLBACKS": "true",
    "POWERTOOLS_SERVICE_NAME": "intercom-events",
    "POWERTOOLS_METRICS_NAMESPACE": "IntercomEvents",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "PYTHONWARNINGS": "ignore",
}


def prepare() -> None:
    os.environ.update(ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # moto in-process, never a real or local endpoint
    warnings.filterwarnings("ignore", message="No application metrics")


def load(function: str) -> Any:
    """functions/<function>/app.py as Lambda loads it, through the local stack's one loader."""
    from local.stack import load_function  # after prepare(): it imports the project package

    return load_function(function)
