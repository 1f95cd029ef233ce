"""Assets: media stored once per tenant, probed on arrival, reusable as inputs by id."""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlipsync.config import Settings
from openlipsync.db import Asset, Database
from openlipsync.db.models import new_id, utcnow
from openlipsync.errors import InputError, InputLimitError, NotFoundError
from openlipsync.jobs.fetch import fetch_url_to_file
from openlipsync.jobs.requests import InputSpec
from openlipsync.media.probe import MediaInfo
from openlipsync.media.tts import synthesize
from openlipsync.security.admission import admit_asset
from openlipsync.security.limits import content_type_for
from openlipsync.storage import Storage, tenant_key

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FACTS = ("duration", "fps", "frame_count", "is_image", "has_video", "has_audio", "width", "height",
          "format_name", "video_codec", "audio_codec", "size_bytes")


class AssetNotFound(NotFoundError):
    code = "asset_not_found"


def safe_name(name: str | None, default: str = "file") -> str:
    base = _NAME_UNSAFE.sub("_", Path(name or default).name).strip("._") or default
    return base[:120]


def media_facts(info: MediaInfo) -> dict[str, Any]:
    raw = asdict(info)
    facts = {k: raw[k] for k in _FACTS}
    facts["video_duration"] = info.video_duration
    return facts


def asset_kind(facts: dict[str, Any]) -> str:
    if facts.get("is_image"):
        return "IMAGE"
    return "VIDEO" if facts.get("has_video") else "AUDIO"


class AssetStore:
    """Create, find and delete assets of a tenant; inputs of any kind are turned into assets."""

    def __init__(self, settings: Settings, db: Database, storage: Storage) -> None:
        self.settings, self.db, self.storage = settings, db, storage

    def add_file(self, tenant_id: str, path: Path, name: str, input_type: str,
                 source_url: str | None = None, asset_id: str | None = None) -> Asset:
        """Probe ``path`` (raising a clear ``InputError`` if unusable), store it, record the asset."""
        size = path.stat().st_size
        if size > self.settings.max_upload_bytes:
            raise InputLimitError(f"{name}: {size} bytes exceeds the limit of {self.settings.max_upload_bytes}")
        facts = media_facts(admit_asset(self.settings, self.db, tenant_id, path))  # quota + input checks
        asset_id = asset_id or new_id()
        name = safe_name(name)
        key = tenant_key(tenant_id, "assets", asset_id, name)
        ctype = content_type_for(facts["format_name"], has_video=facts["has_video"],  # never from the name
                                 codec=facts.get("video_codec"))
        self.storage.put_file(key, path, ctype)
        asset = Asset(id=asset_id, tenant_id=tenant_id, name=name, storage_key=key, content_type=ctype,
                      size=size, format=(Path(name).suffix.lstrip(".") or facts["format_name"].split(",")[0]),
                      kind=asset_kind(facts), input_type=input_type, source_url=source_url, media=facts)
        with self.db.session() as s:
            s.add(asset)
        return asset

    def get(self, tenant_id: str, asset_id: str, session: Session | None = None) -> Asset:
        if session is not None:
            asset = session.get(Asset, asset_id)
        else:
            with self.db.session() as s:
                asset = s.get(Asset, asset_id)
        if asset is None or asset.tenant_id != tenant_id:
            raise AssetNotFound(f"asset {asset_id} not found")
        return asset

    def list(self, tenant_id: str, *, limit: int = 50, cursor: str | None = None,
             kinds: list[str] | None = None, search: str | None = None) -> tuple[list[Asset], str | None, int]:
        """Newest first; ``cursor`` is the id of the last asset of the previous page."""
        with self.db.session() as s:
            q = select(Asset).where(Asset.tenant_id == tenant_id)
            if kinds:
                q = q.where(Asset.kind.in_([k.upper() for k in kinds]))
            if search:
                q = q.where(Asset.name.contains(search))
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            if cursor:
                last = s.get(Asset, cursor)
                if last is not None and last.tenant_id == tenant_id:
                    q = q.where((Asset.created_at < last.created_at)
                                | ((Asset.created_at == last.created_at) & (Asset.id < last.id)))
            rows = list(s.scalars(q.order_by(Asset.created_at.desc(), Asset.id.desc()).limit(limit + 1)))
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        return rows[:limit], next_cursor, int(total)

    def delete(self, tenant_id: str, asset_id: str) -> None:
        with self.db.session() as s:
            asset = self.get(tenant_id, asset_id, s)
            s.delete(asset)
            key = asset.storage_key
        self.storage.delete(key)

    def touch(self, asset: Asset) -> None:
        with self.db.session() as s:
            row = s.get(Asset, asset.id)
            if row is not None:
                row.updated_at = utcnow()

    def resolve(self, tenant_id: str, spec: InputSpec) -> Asset:
        """Turn any input into an asset: fetch URLs, keep uploads, synthesise text, look up ids."""
        if spec.kind == "asset":
            return self.get(tenant_id, spec.asset_id or "")
        if spec.kind == "upload":
            if spec.path is None:
                raise InputError("upload has no file")
            return self.add_file(tenant_id, spec.path, spec.filename or "upload", "UPLOAD")
        with tempfile.TemporaryDirectory(prefix="ols-in-") as tmp:
            if spec.kind == "url":
                url = spec.url or ""
                name = safe_name(url.split("?")[0].rstrip("/").rsplit("/", 1)[-1], "input")
                path = fetch_url_to_file(url, Path(tmp) / name, self.settings)
                return self.add_file(tenant_id, path, name, "URL", source_url=url)
            if spec.kind == "text":
                path = synthesize(spec.text or "", Path(tmp) / "speech.wav", voice=spec.voice or "en-us")
                return self.add_file(tenant_id, path, "speech.wav", "TTS")
        raise InputError(f"unknown input kind {spec.kind!r}")

    def local_copy(self, asset: Asset, workdir: Path) -> Path:
        """A local path to the asset's bytes (the stored file itself when storage is on local disk)."""
        local = self.storage.local_path(asset.storage_key)
        if local is not None:
            return local
        return self.storage.download(asset.storage_key, workdir / f"{asset.id}-{asset.name}")
