"""Streaming stored objects with HTTP Range (browsers seek videos with ``Range: bytes=a-b``)."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from openlipsync.storage import Storage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _content_disposition(filename: str | None) -> dict[str, str]:
    if not filename:
        return {}
    return {"Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}"}


def stream_object(request: Request, storage: Storage, key: str, content_type: str,
                  filename: str | None = None) -> Response:
    """200 with the whole object, 206 with one requested range, or 416 when the range is unsatisfiable."""
    size = storage.size(key)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600",
               # stored files are user data: never sniffed, never run as a page on this origin
               "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "sandbox; default-src 'none'; media-src 'self'; img-src 'self'; "
                                          "style-src 'unsafe-inline'",
               **_content_disposition(filename)}
    start, end, status = 0, size - 1, 200
    spec = request.headers.get("range")
    if spec:
        m = _RANGE.match(spec.strip().split(",")[0])
        if not m or (not m.group(1) and not m.group(2)):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(0, size - int(m.group(2)))
        if start >= size or start > end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=content_type)
    return StreamingResponse(storage.iter_bytes(key, start, end), status_code=status, headers=headers,
                             media_type=content_type)
