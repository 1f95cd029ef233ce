"""A cap on request body size, enforced while the body streams in (before any multipart parsing spools it
to disk): a declared ``Content-Length`` over the cap is refused at once, a chunked body when it passes it.
File uploads (multipart, octet-stream) get the large cap; JSON and everything else a small one, because
those bodies are parsed in memory."""

from __future__ import annotations

import json
from typing import Any

from openlipsync.errors import InputLimitError


class BodyTooLarge(InputLimitError):
    code = "request_too_large"


class BodyLimitMiddleware:
    """ASGI middleware: 413 for upload bodies over ``max_bytes`` and other bodies over ``max_other_bytes``."""

    def __init__(self, app: Any, max_bytes: int, max_other_bytes: int = 8 * 1024 * 1024) -> None:
        self.app, self.upload_cap, self.other_cap = app, max_bytes, max_other_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.upload_cap <= 0:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        upload = ctype in (b"multipart/form-data", b"application/octet-stream")
        cap = self.upload_cap if upload else self.other_cap
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            await _send_413(send, self._error(cap), scope.get("path", ""))
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise self._error(cap)  # the app's LipSyncError handler answers 413
            return message

        await self.app(scope, counted, send)

    @staticmethod
    def _error(cap: int) -> BodyTooLarge:
        return BodyTooLarge(f"request body is larger than the limit of {cap} bytes")


async def _send_413(send: Any, exc: BodyTooLarge, path: str) -> None:
    if path.startswith("/v1"):
        payload: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message, "status": 413}}
    else:
        payload = {"message": exc.message, "error": "Payload Too Large", "statusCode": 413, "errorCode": exc.code}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
