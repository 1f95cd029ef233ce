"""A cap on request body size, enforced while the body streams in (before any multipart parsing spools it
to disk): a declared ``Content-Length`` over the cap is refused at once, a chunked body when it passes it."""

from __future__ import annotations

import json
from typing import Any

from openlipsync.errors import InputLimitError


class BodyTooLarge(InputLimitError):
    code = "request_too_large"


class BodyLimitMiddleware:
    """ASGI middleware: 413 for bodies over ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _send_413(send, self._error(), scope.get("path", ""))
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._error()  # the app's LipSyncError handler answers 413
            return message

        await self.app(scope, counted, send)

    def _error(self) -> BodyTooLarge:
        return BodyTooLarge(f"request body is larger than the limit of {self.max_bytes} bytes")


async def _send_413(send: Any, exc: BodyTooLarge, path: str) -> None:
    if path.startswith("/v1"):
        payload: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message, "status": 413}}
    else:
        payload = {"message": exc.message, "error": "Payload Too Large", "statusCode": 413, "errorCode": exc.code}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
