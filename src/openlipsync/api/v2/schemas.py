"""Sync API v2 request models (camelCase top level, snake_case options) and their translation.

Unknown fields are accepted and ignored, as Sync does; unset fields may be omitted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openlipsync.errors import InputError
from openlipsync.jobs.requests import GenerationRequest, InputSpec, SegmentSpec
from openlipsync.media.voices import resolve_voice

VISUAL_TYPES = ("video", "image")
AUDIO_TYPES = ("audio", "text")


class InputItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    url: str | None = None
    assetId: str | None = None  # noqa: N815 (wire name)
    refId: str | None = None  # noqa: N815
    provider: dict[str, Any] | None = None


class SegmentAudioInput(BaseModel):
    model_config = ConfigDict(extra="allow")
    refId: str  # noqa: N815
    startTime: float | None = Field(default=None, ge=0)  # noqa: N815
    endTime: float | None = Field(default=None, gt=0)  # noqa: N815


class SegmentItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    startTime: float = Field(ge=0)  # noqa: N815
    endTime: float = Field(gt=0)  # noqa: N815
    audioInput: SegmentAudioInput  # noqa: N815


class CreateGeneration(BaseModel):
    """Body of ``POST /v2/generate`` and ``POST /v2/analyze/cost``."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "model": "lipsync-2", "input": [{"type": "video", "url": "https://example.com/v.mp4"},
                                        {"type": "audio", "url": "https://example.com/a.wav"}],
        "options": {"sync_mode": "cut_off"}, "outputFileName": "quickstart"}})
    model: str
    input: list[InputItem]
    options: dict[str, Any] | None = None
    segments: list[SegmentItem] | None = None
    webhookUrl: str | None = None  # noqa: N815
    outputFileName: str | None = None  # noqa: N815


class DurationEstimate(BaseModel):
    """Body of ``POST /v2/generations/estimate``: cost from a duration, no media."""

    model_config = ConfigDict(extra="allow")
    model: str
    duration: float = Field(gt=0)
    fps: float = Field(default=30.0, gt=0)


def item_spec(item: InputItem, uploads: dict[str, InputSpec] | None = None) -> InputSpec:
    if item.type == "text":
        provider = item.provider or {}
        script = provider.get("script")
        if not script:
            raise InputError("text input needs provider.script", code="generation_text_missing")
        voice, note = resolve_voice(provider, str(script))  # hosted voices map onto espeak-ng voices
        return InputSpec("text", text=str(script), voice=voice, ref_id=item.refId, tts_note=note)
    if item.url and item.assetId:
        raise InputError(f"{item.type} input: give url or assetId, not both")
    if item.url:
        return InputSpec("url", url=item.url, ref_id=item.refId)
    if item.assetId:
        return InputSpec("asset", asset_id=item.assetId, ref_id=item.refId)
    if uploads and item.type in uploads:
        return uploads[item.type]
    raise InputError(f"{item.type} input needs a url or an assetId")


def to_request(body: CreateGeneration, uploads: dict[str, InputSpec] | None = None) -> GenerationRequest:
    """Translate a v2 create body (plus multipart uploads by role) into a ``GenerationRequest``."""
    uploads = dict(uploads or {})
    items = list(body.input)
    for role in ("video", "image", "audio"):  # uploaded files stand in for missing items of their type
        if role in uploads and not any(i.type == role for i in items):
            items.append(InputItem(type=role))
    visuals = [i for i in items if i.type in VISUAL_TYPES]
    sounds = [i for i in items if i.type in AUDIO_TYPES]
    unknown = [i.type for i in items if i.type not in VISUAL_TYPES + AUDIO_TYPES]
    if unknown:
        raise InputError(f"unknown input type(s) {unknown}; use video, image, audio or text")
    if len(visuals) != 1:
        raise InputError("input must contain exactly one video (or image)", code="generation_video_missing")
    segments: tuple[SegmentSpec, ...] = ()
    audio: InputSpec | None = None
    if body.segments:
        by_ref = {i.refId: i for i in sounds if i.refId}
        if len(by_ref) != len([i for i in sounds if i.refId]):
            raise InputError("refId values must be unique")
        specs = []
        for seg in body.segments:
            ref = by_ref.get(seg.audioInput.refId)
            if ref is None:
                raise InputError(f"segment refers to unknown refId {seg.audioInput.refId!r}")
            specs.append(SegmentSpec(seg.startTime, seg.endTime, item_spec(ref, uploads),
                                     seg.audioInput.startTime, seg.audioInput.endTime))
        segments = tuple(specs)
    else:
        if len(sounds) != 1:
            raise InputError("input must contain exactly one audio or text item", code="generation_audio_missing")
        audio = item_spec(sounds[0], uploads)
    wire = [i.model_dump(exclude_none=True) for i in items]  # uploads appear as items without url/assetId
    return GenerationRequest(
        model=body.model, visual=item_spec(visuals[0], uploads), audio=audio, options=body.options or {},
        segments=segments, webhook_url=body.webhookUrl, output_file_name=body.outputFileName, wire_input=wire,
        wire_segments=[s.model_dump(exclude_none=True) for s in body.segments] if body.segments else None)


def parse_create(data: Any) -> CreateGeneration:
    try:
        return CreateGeneration.model_validate(data)
    except ValidationError as exc:
        raise InputError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
