"""Domain errors. The API maps each to one HTTP status in one place (logic knows nothing of HTTP)."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class NotFound(DomainError):
    status = 404


class Gone(DomainError):
    status = 410


class UpstreamError(DomainError):
    """Intercom refused or failed (a 400 to our caller: their code or credentials were bad)."""

    status = 400


class Conflict(DomainError):
    """The request clashes with work under way (a backfill already running)."""

    status = 409
