"""The one place errors become HTTP responses.

v4 routes get the full envelope; v3 routes (and v4 when the ``api_v4_error_handling`` flag is
off) get the legacy body. A 5xx never carries a traceback: it is logged, not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from bistro.core.context import CONTEXT_KEY, RequestContext
from bistro.core.errors import BistroError
from bistro.core.responses import JSONBytes, error_body

log = structlog.get_logger("bistro.errors")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


def error_style(request: Request) -> str:
    context: RequestContext | None = request.scope.get(CONTEXT_KEY)
    if context is not None and context.error_style:
        return context.error_style
    return "v3" if request.url.path.startswith("/api/v3/") else "v4"


def render_error(
    request: Request,
    message: str,
    status_code: int,
    code: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONBytes:
    body = error_body(message, status_code, code, details, style=error_style(request))
    return JSONBytes(body, status_code=status_code, headers=headers)


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        fields.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return {"fields": fields}


async def bistro_error_handler(request: Request, exc: Exception) -> JSONBytes:
    assert isinstance(exc, BistroError)
    if exc.status_code >= 500:
        log.error("request_failed", error=exc.message, code=exc.code)
    return render_error(request, exc.message, exc.status_code, exc.code, exc.details)


async def validation_error_handler(request: Request, exc: Exception) -> JSONBytes:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    first = details["fields"][0] if details["fields"] else {"field": "body", "message": "invalid"}
    message = f"Invalid input: {first['field']}: {first['message']}"
    return render_error(request, message, 422, "VALIDATION_ERROR", details)


async def http_error_handler(request: Request, exc: Exception) -> JSONBytes:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route for {request.method} {request.url.path}"
    return render_error(request, message, exc.status_code, code, headers=exc.headers)


async def database_error_handler(request: Request, exc: Exception) -> JSONBytes:
    """A value the database refuses as data (SQLSTATE class 22: a NUL character in text, a
    number out of range...) came from the client: a 4xx, not a 500. Anything else is a 500."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
    if not sqlstate.startswith("22"):
        return await unhandled_error_handler(request, exc)
    status = 400 if error_style(request) == "v3" else 422
    log.info("bad_value_for_database", path=request.url.path, sqlstate=sqlstate)
    return render_error(
        request,
        "Invalid input: a value the database cannot store (for example a NUL character)",
        status,
        "INVALID_VALUE",
        {"sqlstate": sqlstate},
    )


async def client_disconnect_handler(request: Request, exc: Exception) -> JSONBytes:
    """The client went away while its request body was being read (a body cut off mid-way).
    Not a server error: no 500, no traceback. The answer goes nowhere; the metrics record
    the request as a ``client_abort``."""
    assert isinstance(exc, ClientDisconnect)
    log.info("client_disconnected", path=request.url.path, method=request.method)
    return render_error(
        request, "The client disconnected before sending the whole body", 400, "CLIENT_DISCONNECTED"
    )


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONBytes:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return render_error(request, "Internal server error", 500, "INTERNAL_ERROR")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BistroError, bistro_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(ClientDisconnect, client_disconnect_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
