"""Errors → HTTP, once. v2 answers in Sync's (NestJS) shape ``{message, error, statusCode}`` plus
``errorCode``; the native API answers ``{"error": {"code", "message", "status"}}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openlipsync.errors import LipSyncError

log = logging.getLogger("openlipsync.api")


class Unauthorized(LipSyncError):
    code = "unauthorized"
    http_status = 401


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(request: Request, status: int, message: str | list[str], code: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any]
    if request.url.path.startswith("/v2") or "/v2/" in request.url.path:
        body = {"message": message, "error": _phrase(status), "statusCode": status, "errorCode": code}
    else:
        text = message if isinstance(message, str) else "; ".join(message)
        body = {"error": {"code": code, "message": text, "status": status}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _lipsync_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LipSyncError)
    status = exc.http_status
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    message = "Unauthorized" if isinstance(exc, Unauthorized) else exc.message
    return error_response(request, status, message, exc.code, headers or None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    messages = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        messages.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return error_response(request, 400, messages or ["invalid request"], "generation_input_validation_failed")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
    return error_response(request, exc.status_code, str(exc.detail), code, getattr(exc, "headers", None))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "Internal server error", "generation_unhandled_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LipSyncError, _lipsync_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)
