"""Response envelopes, rendered once with orjson.

Routes return :class:`JSONBytes` built by :func:`success` so FastAPI skips its generic
``jsonable_encoder`` path; the pydantic envelope models below exist for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse

T = TypeVar("T")

_OPTS = orjson.OPT_NON_STR_KEYS


class JSONBytes(JSONResponse):
    """orjson-rendered JSON. A ``JSONResponse`` subclass so that FastAPI documents each
    route's ``response_model`` in OpenAPI (for a plain ``Response`` it documents a string)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=_OPTS)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=_OPTS)


def success_body(data: Any, message: str = "OK", meta: dict[str, Any] | None = None) -> bytes:
    return dumps({"success": True, "message": message, "data": data, "meta": meta or {}})


def success(
    data: Any,
    message: str = "OK",
    meta: dict[str, Any] | None = None,
    status_code: int = 200,
) -> JSONBytes:
    return JSONBytes(success_body(data, message, meta), status_code=status_code)


def error_body(
    message: str,
    status_code: int,
    code: str,
    details: dict[str, Any] | None = None,
    *,
    style: str = "v4",
) -> bytes:
    if style == "v3":
        return dumps({"success": False, "error": message, "status_code": status_code})
    return dumps(
        {
            "success": False,
            "error": message,
            "status_code": status_code,
            "code": code,
            "details": details or {},
        }
    )


class Meta(BaseModel):
    total: int | None = None
    limit: int | None = None
    offset: int | None = None


class Envelope(BaseModel, Generic[T]):
    """The success envelope every API route returns."""

    success: bool = True
    message: str = "OK"
    data: T
    meta: dict[str, Any] = {}


class ErrorEnvelope(BaseModel):
    """The error envelope: ``code`` is machine-readable, ``details`` says what was wrong."""

    success: bool = False
    error: str
    status_code: int
    code: str
    details: dict[str, Any] = {}
