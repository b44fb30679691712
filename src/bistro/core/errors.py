"""One error hierarchy. Services raise these; one handler (core.handlers) renders them."""

from __future__ import annotations

from typing import Any


class BistroError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class BadRequest(BistroError):
    status_code = 400
    code = "BAD_REQUEST"


class ValidationFailed(BistroError):
    status_code = 422
    code = "VALIDATION_ERROR"


class Unauthorized(BistroError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(BistroError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(BistroError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(BistroError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(BistroError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class ServiceUnavailable(BistroError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request", "model": None},
    401: {"description": "Missing, expired or revoked token"},
    403: {"description": "Signed in but not allowed"},
    404: {"description": "No such resource"},
    409: {"description": "Conflicts with existing data"},
    413: {"description": "Request body too large"},
    422: {"description": "Invalid input"},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: the error envelope for each expected failure."""
    from bistro.core.responses import ErrorEnvelope

    return {
        code: {"description": ERROR_RESPONSES[code]["description"], "model": ErrorEnvelope}
        for code in codes
    }
