"""Native API request and response models (snake_case)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openlipsync.errors import InputError
from openlipsync.jobs.requests import GenerationRequest, InputSpec, SegmentSpec


class InputRef(BaseModel):
    """One input: exactly one of ``url``, ``asset_id`` or (audio only) ``text``."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    asset_id: str | None = None
    text: str | None = Field(default=None, description="Speech to synthesise offline (audio only).")
    voice: str | None = Field(default=None, description="espeak-ng voice for text, e.g. en-us, es, cmn.")

    def spec(self, role: str) -> InputSpec:
        given = [k for k in ("url", "asset_id", "text") if getattr(self, k)]
        if len(given) != 1:
            raise InputError(f"{role}: give exactly one of url, asset_id" + (", text" if role == "audio" else ""))
        if self.text and role != "audio":
            raise InputError(f"{role}: text is only valid for audio")
        if self.url:
            return InputSpec("url", url=self.url)
        if self.asset_id:
            return InputSpec("asset", asset_id=self.asset_id)
        return InputSpec("text", text=self.text, voice=self.voice)


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float = Field(ge=0, description="Start on the video timeline (seconds).")
    end: float = Field(gt=0)
    audio: InputRef
    audio_start: float | None = Field(default=None, ge=0)
    audio_end: float | None = Field(default=None, gt=0)


class GenerationCreate(BaseModel):
    """Create a generation from URLs, asset ids or text (use multipart to upload files)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "model": "lipsync-2", "video": {"url": "https://example.com/face.mp4"},
        "audio": {"text": "Hello there", "voice": "en-us"}, "options": {"sync_mode": "loop"}}})
    model: str = "lipsync-2"
    video: InputRef
    audio: InputRef | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="sync_mode, temperature, "
                                    "active_speaker_detection, occlusion_detection_enabled, model_mode, prompt")
    segments: list[SegmentIn] = Field(default_factory=list)
    webhook_url: str | None = None
    output_file_name: str | None = None

    def to_request(self) -> GenerationRequest:
        segments = tuple(SegmentSpec(s.start, s.end, s.audio.spec("audio"), s.audio_start, s.audio_end)
                         for s in self.segments)
        return GenerationRequest(model=self.model, visual=self.video.spec("video"),
                                 audio=self.audio.spec("audio") if self.audio else None, options=self.options,
                                 segments=segments, webhook_url=self.webhook_url,
                                 output_file_name=self.output_file_name)


class Progress(BaseModel):
    percent: float
    stage: str


class GenerationPublic(BaseModel):
    """The Generation object (seed schema) plus extra fields."""

    id: str
    status: Literal["pending", "processing", "completed", "failed"]
    created_at: str
    completed_at: str | None
    video_url: str | None
    model: Literal["sync-3", "lipsync-2-pro", "lipsync-2", "lipsync-1.9", "react-1"]
    error: str | None
    duration_seconds: float
    cost: float | None
    state: str = Field(description="Exact state: pending, processing, completed, failed, rejected, canceled")
    error_code: str | None
    estimated_cost: float
    progress: Progress
    options: dict[str, Any]
    input: dict[str, Any]
    sync_report: dict[str, Any] | None
    webhook_url: str | None
    output_file_name: str | None
    attempts: int
    batch_id: str | None


class GenerationPage(BaseModel):
    data: list[GenerationPublic]
    next_cursor: str | None


class EstimatePublic(BaseModel):
    model: str
    duration_seconds: float
    frame_count: int
    fps: float
    billed_frames: int
    price_per_second: float
    cost: float
    currency: str = "USD"


class AssetPublic(BaseModel):
    id: str
    created_at: str
    name: str
    url: str
    size: int
    format: str
    type: Literal["video", "audio", "image"]
    input_type: str
    content_type: str
    duration_seconds: float | None
    width: int | None
    height: int | None
    fps: float | None
    has_audio: bool
    source_url: str | None


class AssetPage(BaseModel):
    data: list[AssetPublic]
    next_cursor: str | None
    total: int


class AssetFromUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    text: str | None = None
    voice: str | None = None
