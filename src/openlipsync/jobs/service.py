"""The job service: create, read, list, cancel, delete and estimate generations for a tenant.

Both API surfaces call this; it never raises HTTP errors, only the ``LipSyncError`` tree.
Inputs are resolved into assets (fetched, stored, probed) before a job is accepted, so a job in the
queue never waits on the network and its cost estimate is exact.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from openlipsync.config import Settings
from openlipsync.db import Asset, Database, Job
from openlipsync.db.models import new_id, utcnow
from openlipsync.db.session import rowcount
from openlipsync.errors import InputError, LipSyncError, NoAudioStreamError, NotFoundError, NoVideoStreamError
from openlipsync.jobs import cost as pricing
from openlipsync.jobs.assets import AssetStore
from openlipsync.jobs.queue import JobQueue
from openlipsync.jobs.requests import GenerationRequest, InputSpec, build_options, parse_model
from openlipsync.jobs.status import JobStatus, sources_of
from openlipsync.media.probe import probe
from openlipsync.media.tts import synthesize
from openlipsync.options import SyncMode
from openlipsync.storage import Storage, tenant_key

log = logging.getLogger("openlipsync.jobs")

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class JobNotFound(NotFoundError):
    code = "generation_not_found"


class JobStateError(LipSyncError):
    """The job is not in a state that allows the operation (e.g. cancelling a completed job)."""

    code = "generation_not_cancelable"
    http_status = 409


class IdempotencyConflict(LipSyncError):
    code = "idempotency_key_reused"
    http_status = 409


class InvalidIdempotencyKey(InputError):
    code = "invalid_idempotency_key"


class JobService:
    def __init__(self, settings: Settings, db: Database, storage: Storage, queue: JobQueue,
                 assets: AssetStore) -> None:
        self.settings, self.db, self.storage, self.queue, self.assets = settings, db, storage, queue, assets

    # --- create & estimate --------------------------------------------------------------------------

    def create(self, tenant_id: str, req: GenerationRequest, *, idempotency_key: str | None = None,
               base_url: str | None = None, batch_id: str | None = None,
               request_id: str | None = None) -> tuple[Job, bool]:
        """Accept a generation; returns ``(job, created)`` (``created`` False for an idempotent replay)."""
        digest = req.fingerprint()
        if idempotency_key is not None:
            if not _IDEMPOTENCY_KEY.match(idempotency_key):
                raise InvalidIdempotencyKey("Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ ~ -")
            existing = self._by_idempotency_key(tenant_id, idempotency_key, digest)
            if existing is not None:
                return existing, False
        self._check_request(req)
        visual, audio, segments = self._resolve(tenant_id, req)
        est = self._estimate(req, visual.media, audio.media if audio else None, segments)
        job = Job(id=new_id(), tenant_id=tenant_id, model=parse_model(req.model).value,
                  model_requested=req.model, status=JobStatus.PENDING.value,
                  inputs=self._inputs_record(req, visual, audio, segments),
                  wire_input=_wire_input(req.wire_input, visual, audio), options=req.options,
                  segments=req.wire_segments, webhook_url=req.webhook_url, output_file_name=req.output_file_name,
                  base_url=base_url, estimated_duration=est.duration_seconds, estimated_frames=est.billed_frames,
                  estimated_cost=est.cost, idempotency_key=idempotency_key, request_hash=digest,
                  batch_id=batch_id, request_id=request_id, enqueued_at=utcnow(), progress_stage="queued")
        try:
            with self.db.session() as s:
                s.add(job)
        except IntegrityError:
            if idempotency_key is None:
                raise
            # A concurrent request with the same key won the race: answer with its job.
            existing = self._by_idempotency_key(tenant_id, idempotency_key, digest)
            if existing is None:
                raise
            return existing, False
        self.enqueue(job.id)
        return job, True

    def estimate(self, tenant_id: str, req: GenerationRequest) -> pricing.Estimate:
        """The cost and output length of ``req`` without creating a job (inputs are probed, not kept)."""
        self._check_request(req)
        with tempfile.TemporaryDirectory(prefix="ols-est-") as tmp:
            visual = self._facts(tenant_id, req.visual, Path(tmp))
            audio = self._facts(tenant_id, req.audio, Path(tmp)) if req.audio else None
            segs = [object()] * len(req.segments)
            return self._estimate(req, visual, audio, segs)

    def reject(self, tenant_id: str, req_model: str, wire_input: list[Any], options: dict[str, Any],
               error: LipSyncError | str, *, batch_id: str | None = None, request_id: str | None = None,
               webhook_url: str | None = None) -> Job:
        """Record a generation refused at validation (REJECTED; used for batch lines)."""
        message = error.message if isinstance(error, LipSyncError) else error
        code = error.code if isinstance(error, LipSyncError) else "generation_input_validation_failed"
        try:
            model = parse_model(req_model).value
        except InputError:
            model = "lipsync-2"
        now = utcnow()
        job = Job(id=new_id(), tenant_id=tenant_id, model=model, model_requested=str(req_model),
                  status=JobStatus.REJECTED.value, wire_input=wire_input if isinstance(wire_input, list) else [],
                  options=options if isinstance(options, dict) else {}, inputs={}, error=message,
                  error_code=code, cost=0.0, completed_at=now, batch_id=batch_id, request_id=request_id,
                  webhook_url=webhook_url, progress_stage="rejected")
        with self.db.session() as s:
            s.add(job)
        return job

    def _check_request(self, req: GenerationRequest) -> None:
        build_options(req.model, req.options)
        if req.audio is None and not req.segments:
            raise InputError("an audio input is required (audio, text, or segments)", code="generation_audio_missing")
        if req.output_file_name is not None and not _OUTPUT_NAME.match(req.output_file_name):
            raise InputError("outputFileName must be 1-255 characters of A-Z a-z 0-9 _ -")
        for seg in req.segments:
            if not 0 <= seg.start < seg.end:
                raise InputError("each segment needs 0 <= startTime < endTime")
        if req.webhook_url:  # scheme/credentials/literal address now; the name is checked at each delivery
            from openlipsync.security.admission import check_webhook_url

            check_webhook_url(req.webhook_url, self.settings)

    def _resolve(self, tenant_id: str, req: GenerationRequest) -> tuple[Asset, Asset | None, list[dict]]:
        visual = self.assets.resolve(tenant_id, req.visual)
        _check_visual(visual.media, visual.name)
        audio = self.assets.resolve(tenant_id, req.audio) if req.audio else None
        if audio is not None:
            _check_audio(audio.media, audio.name)
        segments = []
        for seg in req.segments:
            clip = self.assets.resolve(tenant_id, seg.audio)
            _check_audio(clip.media, clip.name)
            segments.append({"start": seg.start, "end": seg.end, "asset": clip.id, "audio_start": seg.audio_start,
                             "audio_end": seg.audio_end, "ref_id": seg.audio.ref_id,
                             **({"tts": seg.audio.tts_note} if seg.audio.tts_note else {})})
        return visual, audio, segments

    def _facts(self, tenant_id: str, spec: InputSpec, tmp: Path) -> dict[str, Any]:
        from openlipsync.jobs.assets import media_facts
        from openlipsync.jobs.fetch import fetch_url_to_file
        from openlipsync.security.admission import input_limits
        from openlipsync.security.limits import inspect_media

        if spec.kind == "asset":
            return self.assets.get(tenant_id, spec.asset_id or "").media
        if spec.kind == "upload" and spec.path is not None:
            return media_facts(inspect_media(spec.path, input_limits(self.settings)))
        if spec.kind == "url":
            return media_facts(inspect_media(fetch_url_to_file(spec.url or "", tmp / new_id(), self.settings),
                                             input_limits(self.settings)))
        if spec.kind == "text":
            return media_facts(probe(synthesize(spec.text or "", tmp / f"{new_id()}.wav", voice=spec.voice or "en-us")))
        raise InputError(f"unknown input kind {spec.kind!r}")

    def _estimate(self, req: GenerationRequest, visual: dict[str, Any], audio: dict[str, Any] | None,
                  segments: list[Any]) -> pricing.Estimate:
        _check_visual(visual, "video")
        options = build_options(req.model, req.options)
        price = self.settings.price_per_second(options.model.value)
        if segments:  # the video is the timeline (see openlipsync.lipsync)
            seconds = float(visual.get("video_duration") or 0.0)
            return pricing.estimate(visual, seconds, SyncMode.CUT_OFF, price, self.settings.billing_fps)
        assert audio is not None
        _check_audio(audio, "audio")
        return pricing.estimate(visual, float(audio.get("duration") or 0.0), options.sync_mode, price,
                                self.settings.billing_fps)

    @staticmethod
    def _inputs_record(req: GenerationRequest, visual: Asset, audio: Asset | None,
                       segments: list[dict]) -> dict[str, Any]:
        def wire(spec: InputSpec | None, asset: Asset | None) -> dict[str, Any] | None:
            if spec is None or asset is None:
                return None
            out: dict[str, Any] = {"asset_id": asset.id}
            if spec.url:
                out["url"] = spec.url
            if spec.text:
                out.update(text=spec.text, voice=spec.voice)
            if spec.tts_note:
                out["tts"] = spec.tts_note
            return out

        return {"visual": visual.id, "audio": audio.id if audio else None, "segments": segments,
                "wire_v1": {"video": wire(req.visual, visual), "audio": wire(req.audio, audio)}}

    def _by_idempotency_key(self, tenant_id: str, key: str, digest: str) -> Job | None:
        with self.db.session() as s:
            job = s.scalar(select(Job).where(Job.tenant_id == tenant_id, Job.idempotency_key == key))
        if job is not None and job.request_hash != digest:
            raise IdempotencyConflict("this Idempotency-Key was already used with a different request")
        return job

    def enqueue(self, job_id: str) -> None:
        """Hand a stored job to the queue; on failure the sweeper tries again later."""
        try:
            self.queue.enqueue(job_id)
        except Exception:  # the job is safely stored; the sweeper enqueues it again later
            log.exception("could not enqueue job %s; the sweeper will retry", job_id)

    # --- read -----------------------------------------------------------------------------------------

    def get(self, tenant_id: str, job_id: str) -> Job:
        with self.db.session() as s:
            job = s.get(Job, job_id)
        if job is None or job.tenant_id != tenant_id:
            raise JobNotFound(f"generation {job_id} not found")
        return job

    def list(self, tenant_id: str, *, statuses: list[JobStatus] | None = None, models: list[str] | None = None,
             ids: list[str] | None = None, limit: int | None = 50, cursor: str | None = None,
             batch_id: str | None = None) -> tuple[list[Job], str | None]:
        """Newest first. ``cursor`` is opaque (from a previous page) or a job id (v2 style)."""
        q = select(Job).where(Job.tenant_id == tenant_id)
        if statuses:
            q = q.where(Job.status.in_([s.value for s in statuses]))
        if models:
            q = q.where(Job.model.in_([parse_model(m).value for m in models]))
        if ids:
            q = q.where(Job.id.in_(ids))
        if batch_id:
            q = q.where(Job.batch_id == batch_id)
        with self.db.session() as s:
            if cursor:
                created, last_id = self._cursor_position(s, tenant_id, cursor)
                q = q.where((Job.created_at < created) | ((Job.created_at == created) & (Job.id < last_id)))
            q = q.order_by(Job.created_at.desc(), Job.id.desc())
            rows = list(s.scalars(q.limit(limit + 1) if limit else q))
        if limit and len(rows) > limit:
            rows = rows[:limit]
            return rows, _encode_cursor(rows[-1])
        return rows, None

    @staticmethod
    def _cursor_position(s: Any, tenant_id: str, cursor: str) -> tuple[datetime, str]:
        job = s.get(Job, cursor)
        if job is not None and job.tenant_id == tenant_id:
            return job.created_at, job.id
        try:
            created, last_id = base64.urlsafe_b64decode(cursor.encode() + b"==").decode().split("|", 1)
            return datetime.fromisoformat(created), last_id
        except (ValueError, UnicodeDecodeError):
            raise InputError("invalid cursor") from None

    # --- cancel & delete ------------------------------------------------------------------------------

    def cancel(self, tenant_id: str, job_id: str) -> Job:
        """Cancel a pending or processing job (no charge); a running worker stops at its next heartbeat."""
        job = self.get(tenant_id, job_id)
        now = utcnow()
        with self.db.session() as s:
            res = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(sources_of(JobStatus.CANCELED)))
                .values(status=JobStatus.CANCELED.value, error="the generation was cancelled by request",
                        error_code="generation_canceled", cost=0.0, completed_at=now, updated_at=now,
                        lease_owner=None, lease_expires_at=None, progress_stage="canceled")
                .execution_options(synchronize_session=False))
        if rowcount(res) != 1:
            raise JobStateError(f"generation {job_id} is already {JobStatus(job.status).value.lower()}")
        return self.get(tenant_id, job_id)

    def delete(self, tenant_id: str, job_id: str) -> None:
        """Delete the job and its output files (a running job is cancelled first)."""
        job = self.get(tenant_id, job_id)
        if not JobStatus(job.status).terminal:
            with contextlib.suppress(JobStateError):
                self.cancel(tenant_id, job_id)
        with self.db.session() as s:
            row = s.get(Job, job_id)
            if row is not None:
                s.delete(row)
        self.storage.delete_prefix(tenant_key(tenant_id, "outputs", job_id))


def _check_visual(facts: dict[str, Any], name: str) -> None:
    if not facts.get("has_video"):
        raise NoVideoStreamError(f"{name}: the visual input must be a video or an image")


def _check_audio(facts: dict[str, Any], name: str) -> None:
    if not facts.get("has_audio"):
        raise NoAudioStreamError(f"{name}: the audio input has no audio stream")


def _wire_input(wire: list[dict[str, Any]], visual: Asset, audio: Asset | None) -> list[dict[str, Any]]:
    """The v2 ``input`` echo: as sent, with uploaded files shown by their new asset ids."""
    if not wire:
        wire = [{"type": "image" if visual.kind == "IMAGE" else "video"}] + ([{"type": "audio"}] if audio else [])
    out = []
    for item in wire:
        item = dict(item)
        if not (item.get("url") or item.get("assetId") or item.get("provider")):
            asset = visual if item.get("type") in ("video", "image") else audio
            if asset is not None:
                item["assetId"] = asset.id
        out.append(item)
    return out


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
