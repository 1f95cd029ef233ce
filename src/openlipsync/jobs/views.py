"""Wire representations of jobs and assets, shared by the API routers and the webhook sender.

v1 (native) follows the seed schema (snake_case, lowercase statuses); v2 follows Sync's API v2
(camelCase top level, snake_case options, ``error_code``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openlipsync.db import Asset, Job
from openlipsync.jobs.links import LinkSigner
from openlipsync.jobs.status import JobStatus

_MODEL_INFO = {
    "lipsync-1.9": ("lipsync", "1.9.0", "Fastest tier: warps the speaker's own mouth, no retrieval."),
    "lipsync-2": ("lipsync", "2.0.0", "Re-uses the speaker's own mouth frames (retrieval) for sharp teeth."),
    "lipsync-2-pro": ("lipsync", "2.1.0", "lipsync-2 with the best blending and detail."),
    "sync-3": ("lipsync", "3.0.0", "Also moves jaw and cheeks; handles harder poses."),
    "react-1": ("react", "1.0.0", "Also audio-driven expression and head motion (model_mode, prompt)."),
}
V2_MODEL_NAMES = {"lipsync-1.9": "lipsync-1.9.0-beta"}


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with milliseconds and ``Z`` (what Sync sends)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Links:
    """Builds absolute, signed links under ``base_url`` (no trailing slash)."""

    base_url: str
    signer: LinkSigner

    def video(self, job: Job) -> str | None:
        if not job.output_key:
            return None
        return f"{self.base_url}/v1/generations/{job.id}/video?{self.signer.query('video', job.id, job.output_key)}"

    def asset(self, asset: Asset) -> str:
        q = self.signer.query("asset", asset.id, asset.storage_key)
        return f"{self.base_url}/v1/assets/{asset.id}/content?{q}"


def _charged(job: Job) -> float | None:
    status = JobStatus(job.status)
    if status is JobStatus.COMPLETED:
        return job.cost
    return 0.0 if status.terminal else None


def _duration(job: Job) -> float:
    # Output duration is fixed by the inputs and sync_mode, so it is known (planned) before completion.
    return float(job.duration_seconds if job.duration_seconds is not None else job.estimated_duration)


def v1_generation(job: Job, links: Links) -> dict[str, Any]:
    status = JobStatus(job.status)
    return {
        "id": job.id,
        "status": status.v1,
        "state": status.value.lower(),
        "created_at": iso(job.created_at),
        "completed_at": iso(job.completed_at) if status.terminal else None,
        "video_url": links.video(job) if status is JobStatus.COMPLETED else None,
        "model": job.model,
        "error": job.error if status is not JobStatus.COMPLETED else None,
        "error_code": job.error_code if status is not JobStatus.COMPLETED else None,
        "duration_seconds": _duration(job),
        "cost": _charged(job),
        "estimated_cost": job.estimated_cost,
        "progress": {"percent": round(float(job.progress_percent), 1), "stage": job.progress_stage},
        "options": job.options or {},
        "input": job.inputs.get("wire_v1", {}),
        "sync_report": job.sync_report,
        "webhook_url": job.webhook_url,
        "output_file_name": job.output_file_name,
        "attempts": job.attempts,
        "batch_id": job.batch_id,
    }


def v2_generation(job: Job, links: Links) -> dict[str, Any]:
    status = JobStatus(job.status)
    output = links.video(job) if status is JobStatus.COMPLETED else None
    error = job.error if status is not JobStatus.COMPLETED else None
    code = job.error_code if status is not JobStatus.COMPLETED else None
    return {
        "id": job.id,
        "createdAt": iso(job.created_at),
        "status": status.value,
        "model": job.model_requested,
        "input": job.wire_input or [],
        "options": job.options or {},
        "segments": job.segments,
        "webhookUrl": job.webhook_url,
        "outputUrl": output,
        "outputMediaUrl": output,
        "outputDuration": job.duration_seconds if status is JobStatus.COMPLETED else None,
        "segmentOutputUrl": None,
        "error": error,
        "error_code": code,
        "errorCode": code,
        "progress_percent": round(float(job.progress_percent), 1),
        "progress_stage": job.progress_stage,
        "cost": _charged(job),
        "completedAt": iso(job.completed_at) if status.terminal else None,
    }


def v1_asset(asset: Asset, links: Links) -> dict[str, Any]:
    m = asset.media or {}
    return {
        "id": asset.id, "created_at": iso(asset.created_at), "name": asset.name, "url": links.asset(asset),
        "size": asset.size, "format": asset.format, "type": asset.kind.lower(),
        "input_type": asset.input_type.lower(), "content_type": asset.content_type,
        "duration_seconds": m.get("duration"), "width": m.get("width") or None, "height": m.get("height") or None,
        "fps": m.get("fps") or None, "has_audio": bool(m.get("has_audio")), "source_url": asset.source_url,
    }


def v2_asset(asset: Asset, links: Links) -> dict[str, Any]:
    m = asset.media or {}
    return {
        "id": asset.id, "createdAt": iso(asset.created_at), "updatedAt": iso(asset.updated_at),
        "name": asset.name, "url": links.asset(asset), "size": asset.size, "format": asset.format,
        "type": asset.kind, "inputType": asset.input_type, "durationSeconds": m.get("duration"),
        "thumbnailUrl": None, "visibility": "USER", "width": m.get("width") or None,
        "height": m.get("height") or None,
    }


def v1_models(prices: dict[str, float]) -> list[dict[str, Any]]:
    return [{"id": name, "name": name, "type": kind, "version": version, "description": desc,
             "price_per_second": prices.get(name), "aliases": [V2_MODEL_NAMES[name]] if name in V2_MODEL_NAMES
             else []} for name, (kind, version, desc) in _MODEL_INFO.items()]


def v2_models() -> list[dict[str, Any]]:
    return [{"id": V2_MODEL_NAMES.get(name, name), "name": V2_MODEL_NAMES.get(name, name), "type": kind,
             "version": version, "description": desc, "deprecatedAt": None}
            for name, (kind, version, desc) in _MODEL_INFO.items()]
