"""Multipart helpers: copy uploaded parts to real temp files (the prober and ffmpeg need paths)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile

from openlipsync.errors import InputError, InputLimitError
from openlipsync.jobs.assets import safe_name
from openlipsync.jobs.requests import InputSpec


class UploadDir:
    """A temp dir holding this request's uploads; removed when the request is done."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._tmp = tempfile.TemporaryDirectory(prefix="ols-upload-")
        self.path = Path(self._tmp.name)

    def save(self, upload: UploadFile, default_name: str) -> InputSpec:
        name = safe_name(upload.filename, default_name)
        dest = self.path / f"{len(list(self.path.iterdir()))}-{name}"
        upload.file.seek(0)
        with open(dest, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
        if dest.stat().st_size > self.max_bytes:
            raise InputLimitError(f"{name}: upload exceeds the limit of {self.max_bytes} bytes",
                                  code="generation_input_too_large")
        return InputSpec("upload", path=dest, filename=name)

    def cleanup(self) -> None:
        self._tmp.cleanup()


def form_file(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) else None


def form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value)


def form_json(form: FormData, name: str) -> Any:
    """A field holding a JSON string (how SDKs send nested objects in multipart)."""
    raw = form_text(form, name)
    if raw is None or raw == "":
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise InputError(f"multipart field {name!r} must be a JSON string") from None
