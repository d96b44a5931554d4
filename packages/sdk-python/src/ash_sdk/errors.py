"""Errors raised by the Ash SDK.

Every error derives from :class:`AshError` and carries a stable, machine-readable ``code``.
Errors the server answered derive from :class:`AshApiError`; the class is chosen by the API's
problem ``code`` first (e.g. ``session_busy`` -> :class:`SessionBusyError`), then by the HTTP
status (e.g. any 404 -> :class:`NotFoundError`). Branch on the class or on ``err.code``, never on
the message. :class:`AshApiError` is also an ``httpx.HTTPStatusError``, so code written for the
upstream client (which let httpx raise) keeps catching it.
"""

from __future__ import annotations

from typing import Any

import httpx


class AshError(Exception):
    """Base class of every SDK error. ``code`` is stable (see docs/errors.md)."""

    code: str = "ash_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        Exception.__init__(self, message)  # not super(): AshApiError's MRO continues to httpx
        self.message = message
        if code is not None:
            self.code = code


class AshConnectionError(AshError):
    """The server could not be reached, or a connection dropped (code ``connection_error``)."""

    code = "connection_error"


class AshTimeoutError(AshConnectionError):
    """A request took longer than the client's ``timeout`` (code ``timeout``)."""

    code = "timeout"


class AshLocalError(AshError):
    """Bad local input found before any request: ``invalid_path``, ``not_a_directory``,
    ``payload_too_large`` (a local folder over the limit) or ``local_io_error``."""

    def __init__(self, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message, code)
        self.path = path


class AshApiError(AshError, httpx.HTTPStatusError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        code: the problem's stable ``code`` (``http_<status>`` when the body had none).
        detail: the human-readable message.
        errors: for validation errors, ``[{"path": "/body/x", "message": ...}]``.
        body: the whole problem-details body (a dict, possibly empty).
        response: the ``httpx.Response``.
    """

    def __init__(self, message: str, *, code: str, response: httpx.Response, body: dict[str, Any]) -> None:
        AshError.__init__(self, message, code)
        # httpx.HTTPStatusError's own attributes, set directly: its __init__ would reset args.
        self.request = response.request
        self.response = response
        self.status_code = response.status_code
        self.detail = message
        self.body = body
        errs = body.get("errors")
        self.errors: list[dict[str, Any]] = errs if isinstance(errs, list) else []

    def __str__(self) -> str:
        return f"{self.status_code} {self.code}: {self.message}"


class BadRequestError(AshApiError):
    """400: the request is invalid (``errors`` names the fields)."""


class ValidationError(BadRequestError):
    """400 ``validation_failed``: a body, query or path parameter failed its schema."""


class AuthenticationError(AshApiError):
    """401 ``unauthorized``: no, malformed, unknown or revoked API key."""


class PermissionDeniedError(AshApiError):
    """403: not allowed."""


class NotFoundError(AshApiError):
    """404: no such resource (or another tenant's)."""


class AgentNotFoundError(NotFoundError):
    """404 ``agent_not_found``."""


class SessionNotFoundError(NotFoundError):
    """404 ``session_not_found``."""


class ConflictError(AshApiError):
    """409: the request conflicts with the resource's state."""


class SessionBusyError(ConflictError):
    """409 ``session_busy``: a turn is running; see ``retry_after``."""

    @property
    def retry_after(self) -> float | None:
        return _retry_after(self.response)


class InvalidSessionStateError(ConflictError):
    """409 ``invalid_session_state``: the operation does not fit the session's state."""


class GoneError(AshApiError):
    """410: gone (e.g. the session has ended)."""


class SessionEndedError(GoneError):
    """410 ``session_ended``: read its history, or fork it."""


class PayloadTooLargeError(AshApiError):
    """413: a body or content over a limit (nothing stored)."""


class UnsupportedMediaTypeError(AshApiError):
    """415: wrong Content-Type."""


class UnprocessableEntityError(AshApiError):
    """422: well-formed but unusable (e.g. an agent folder without CLAUDE.md)."""


class RateLimitError(AshApiError):
    """429 ``rate_limited``. ``retry_after`` is the server's ``Retry-After`` in seconds."""

    @property
    def retry_after(self) -> float | None:
        return _retry_after(self.response)


class InternalServerError(AshApiError):
    """5xx other than 503."""


class ServiceUnavailableError(AshApiError):
    """503: no capacity, a feature switched off, storage unavailable."""

    @property
    def retry_after(self) -> float | None:
        return _retry_after(self.response)


class CapacityReachedError(ServiceUnavailableError):
    """503 ``capacity_reached``: no sandbox capacity left; see ``retry_after``."""


_BY_CODE: dict[str, type[AshApiError]] = {
    "validation_failed": ValidationError,
    "unauthorized": AuthenticationError,
    "agent_not_found": AgentNotFoundError,
    "session_not_found": SessionNotFoundError,
    "session_busy": SessionBusyError,
    "invalid_session_state": InvalidSessionStateError,
    "session_ended": SessionEndedError,
    "rate_limited": RateLimitError,
    "capacity_reached": CapacityReachedError,
}

_BY_STATUS: dict[int, type[AshApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_class_for(status: int, code: str | None) -> type[AshApiError]:
    """The exception class for an error answer: by problem ``code``, else by HTTP status."""
    by_code = _BY_CODE.get(code or "")
    if by_code is not None and issubclass(by_code, _BY_STATUS.get(status, AshApiError)):
        return by_code
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InternalServerError if status >= 500 else AshApiError


def api_error_from_response(response: httpx.Response) -> AshApiError:
    """Builds the typed error of an error response (its body must already be read)."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    code = body.get("code") if isinstance(body.get("code"), str) else f"http_{response.status_code}"
    message = body.get("detail") or body.get("error") or f"request failed with status {response.status_code}"
    cls = error_class_for(response.status_code, code)
    return cls(str(message), code=str(code), response=response, body=body)


__all__ = [
    "AgentNotFoundError",
    "AshApiError",
    "AshConnectionError",
    "AshError",
    "AshLocalError",
    "AshTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CapacityReachedError",
    "ConflictError",
    "GoneError",
    "InternalServerError",
    "InvalidSessionStateError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "SessionBusyError",
    "SessionEndedError",
    "SessionNotFoundError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "api_error_from_response",
    "error_class_for",
]
