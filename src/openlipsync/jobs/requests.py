"""What a caller asks for, independent of the API surface: inputs, options, segments."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from openlipsync.errors import InputError
from openlipsync.options import (
    ActiveSpeaker,
    Emotion,
    LipSyncOptions,
    Model,
    ModelMode,
    Segment,
    SyncMode,
)

InputKind = Literal["url", "asset", "upload", "text"]


@dataclass(frozen=True)
class InputSpec:
    """One input: a URL, an existing asset, an uploaded temp file, or text to speak."""

    kind: InputKind
    url: str | None = None
    asset_id: str | None = None
    path: Path | None = None  # uploads: the temp file
    filename: str | None = None
    text: str | None = None
    voice: str | None = None
    ref_id: str | None = None
    tts_note: str | None = None  # how a hosted TTS request was mapped onto the offline voice

    def fingerprint(self) -> dict[str, Any]:
        """Stable description for idempotency hashing (uploads by content digest)."""
        if self.kind == "upload" and self.path is not None:
            return {"upload": _file_digest(self.path)}
        return {"kind": self.kind, "url": self.url, "asset": self.asset_id, "text": self.text,
                "voice": self.voice, "ref": self.ref_id}


@dataclass(frozen=True)
class SegmentSpec:
    start: float
    end: float
    audio: InputSpec
    audio_start: float | None = None
    audio_end: float | None = None


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    visual: InputSpec
    audio: InputSpec | None
    options: dict[str, Any] = field(default_factory=dict)  # snake_case wire options
    segments: tuple[SegmentSpec, ...] = ()
    webhook_url: str | None = None
    output_file_name: str | None = None
    wire_input: list[dict[str, Any]] = field(default_factory=list)  # v2 ``input`` as sent
    wire_segments: list[dict[str, Any]] | None = None

    def fingerprint(self) -> str:
        body = {"model": self.model, "visual": self.visual.fingerprint(),
                "audio": self.audio.fingerprint() if self.audio else None, "options": self.options,
                "segments": [(s.start, s.end, s.audio.fingerprint(), s.audio_start, s.audio_end)
                             for s in self.segments],
                "webhook": self.webhook_url, "name": self.output_file_name}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_model(name: str) -> Model:
    try:
        return Model.parse(name)
    except ValueError:
        raise InputError(f"unsupported model {name!r}; use one of {[m.value for m in Model]}",
                         code="generation_unsupported_model") from None


def _enum(cls: Any, value: Any, what: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise InputError(f"invalid {what} {value!r}; use one of {[m.value for m in cls]}") from None


def _speaker(raw: Any) -> ActiveSpeaker:
    if raw is None or isinstance(raw, bool):
        return ActiveSpeaker()
    if not isinstance(raw, dict):
        raise InputError("active_speaker_detection must be an object")
    coords = raw.get("coordinates")
    boxes = raw.get("bounding_boxes")
    try:
        return ActiveSpeaker(
            auto_detect=bool(raw.get("auto_detect", coords is None and boxes is None)),
            frame_number=None if raw.get("frame_number") is None else int(raw["frame_number"]),
            coordinates=None if coords is None else (float(coords[0]), float(coords[1])),
            bounding_boxes=None if boxes is None else tuple(
                None if b is None else (float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in boxes))
    except (TypeError, ValueError, IndexError, KeyError):
        raise InputError("active_speaker_detection: invalid frame_number, coordinates or bounding_boxes") from None


def build_options(model: str, options: dict[str, Any], segments: tuple[Segment, ...] = ()) -> LipSyncOptions:
    """Validate snake_case wire options into the engine's ``LipSyncOptions`` (raises ``InputError``)."""
    if not isinstance(options, dict):
        raise InputError("options must be an object")
    temperature = options.get("temperature", 0.5)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 1:
        raise InputError("options.temperature must be a number between 0 and 1")
    prompt = options.get("prompt")
    return LipSyncOptions(
        model=parse_model(model),
        sync_mode=_enum(SyncMode, options.get("sync_mode", "loop"), "sync_mode"),
        temperature=float(temperature),
        active_speaker=_speaker(options.get("active_speaker_detection")),
        occlusion_detection=bool(options.get("occlusion_detection_enabled", False)),
        model_mode=_enum(ModelMode, options.get("model_mode", "face"), "model_mode"),
        prompt=None if prompt is None else _enum(Emotion, prompt, "prompt"),
        segments=segments,
    )
