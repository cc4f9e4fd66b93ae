"""The console: a browser page that speaks only this API, served with its script and style sheet.

The files are static (no build step, nothing fetched from elsewhere) and public: the secrets the person
types stay in the browser's sessionStorage and travel only in the Authorization header of the API calls
the page makes. The Content-Security-Policy lets the page load and call nothing but this origin.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ..errors import NotFound

router = Router()

CONSOLE_PATH = "/console"
# The files shipped in intercom_events/console, by the name the page asks for them: a fixed list, so no
# path a client sends reaches the file system.
_CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Small files, changed with each deployment: revalidated rather than kept stale.
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> str:
    return files("intercom_events").joinpath("console", name).read_text(encoding="utf-8")


def _file(name: str) -> Response[str]:
    return Response(200, _CONTENT_TYPES[name], _read(name), headers=dict(_HEADERS))


@router.get(CONSOLE_PATH, security=[{}], include_in_schema=False)
def console_page() -> Response[str]:
    return _file("index.html")


@router.get(f"{CONSOLE_PATH}/<asset>", security=[{}], include_in_schema=False)
def console_asset(asset: str) -> Response[str]:
    if asset not in _CONTENT_TYPES or asset == "index.html":
        raise NotFound("No such file in the console")
    return _file(asset)
