"""JSON a client sent, read with limits: whatever the text, a value every later step can handle, or an
error naming what is wrong and where.

`json.loads` alone lets through what fails later, as a 5xx: it recurses once per level (RecursionError
near 1,000), refuses an integer of more than 4,300 digits with a bare ValueError, reads `NaN`,
`Infinity` and `1e400` as numbers no JSON writer or DynamoDB takes back, and `"\\ud800"` as a lone
surrogate that no UTF-8 encoder writes (boto3, SQS, pydantic's serializer all fail on it). What it
gives back is then walked once, iteratively, so no depth can overflow the stack here either.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from .errors import BadRequest

# An Intercom notification nests about 10 levels; DynamoDB keeps 32, pydantic serializes about 250.
MAX_DEPTH = 32
_FIELD_PART_MAX = 100


class InvalidJSON(ValueError):
    """A body (or a JSON string within one) that is not JSON this API reads. A ValueError, so that a
    pydantic validator that reads nested JSON turns it into a validation error naming its field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem if field == "body" else f"{field}: {problem}")
        self.field = field
        self.problem = problem


def loads(text: str | bytes) -> Any:
    """The value of a JSON text, or InvalidJSON."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidJSON("body", f"nests deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise InvalidJSON("body", "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON("body", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError:  # the only other ValueError json.loads raises on text: int()'s digit limit
        raise InvalidJSON("body", f"a number has more than {sys.get_int_max_str_digits()} digits") from None
    _check(value)
    return value


def parse(text: str | bytes, message: str = "Invalid request") -> Any:
    """The value of a request body, or the API's 400 naming the field at fault."""
    try:
        return loads(text)
    except InvalidJSON as exc:
        raise BadRequest(message, [{"field": exc.field, "message": exc.problem}]) from None


def _check(value: Any) -> None:
    """Depth, strings and numbers of a parsed value; containers are walked from a stack, not by recursion."""
    problem = _scalar_problem(value)
    if problem:
        raise InvalidJSON("body", problem)
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())] if isinstance(value, dict | list) else []
    while stack:
        container, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise InvalidJSON(_field(path), f"nests deeper than {MAX_DEPTH} levels")
        children = container.items() if isinstance(container, dict) else enumerate(container)
        for key, child in children:
            if isinstance(key, str) and not is_utf8(key):
                raise InvalidJSON(_field((*path, key)), "a key is not Unicode text (a lone surrogate)")
            if isinstance(child, dict | list):
                stack.append((child, (*path, key)))
            else:
                problem = _scalar_problem(child)
                if problem:
                    raise InvalidJSON(_field((*path, key)), problem)


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str) and not is_utf8(value):
        return "not Unicode text (a lone surrogate)"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    return None


def is_utf8(text: str) -> bool:
    """JSON can carry lone surrogates ("\\ud800"); no UTF-8 writer (boto3, SQS, DynamoDB, KMS) takes them."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field(path: tuple[str | int, ...]) -> str:
    """The path as the API's errors name fields (`configuration.x.0`), safe to put in an answer."""
    parts = (str(part).encode("utf-8", "backslashreplace").decode()[:_FIELD_PART_MAX] for part in path)
    return ".".join(parts) or "body"
