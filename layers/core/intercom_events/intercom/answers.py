"""Reading Intercom's answers: a JSON object, and the code of its `error.list`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def json_object(answer: httpx.Response) -> dict[str, Any] | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def error_code(body: dict[str, Any] | None) -> str | None:
    """The first error.list code; only a short code word, as free text could echo what we sent."""
    if body is None:
        return None
    errors = body.get("errors")
    code = None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
    elif isinstance(body.get("error"), str):
        code = body["error"]
    return code if isinstance(code, str) and _CODE.fullmatch(code) else None
