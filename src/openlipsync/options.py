"""Options and results of one lip-sync run: the engine's only contract with its callers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Model(StrEnum):
    """Model tiers, fastest first (see README "Models")."""

    LIPSYNC_1_9 = "lipsync-1.9"
    LIPSYNC_2 = "lipsync-2"
    LIPSYNC_2_PRO = "lipsync-2-pro"
    SYNC_3 = "sync-3"
    REACT_1 = "react-1"

    @classmethod
    def parse(cls, value: str | Model) -> Model:
        """Accept our names and Sync's aliases (``lipsync-1.9.0-beta``)."""
        if isinstance(value, Model):
            return value
        aliases = {"lipsync-1.9.0-beta": "lipsync-1.9", "lipsync-1.9.0": "lipsync-1.9"}
        return cls(aliases.get(value, value))


class SyncMode(StrEnum):
    """What to do when video and audio lengths differ (SPEC §3)."""

    LOOP = "loop"
    BOUNCE = "bounce"
    CUT_OFF = "cut_off"
    SILENCE = "silence"
    REMAP = "remap"


class ModelMode(StrEnum):
    LIPS = "lips"
    FACE = "face"
    HEAD = "head"


class Emotion(StrEnum):
    HAPPY = "happy"
    SAD = "sad"
    ANGRY = "angry"
    DISGUSTED = "disgusted"
    SURPRISED = "surprised"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class ActiveSpeaker:
    """Which face to edit: auto-detect, a point on one frame, or a box per frame."""

    auto_detect: bool = True
    frame_number: int | None = None
    coordinates: tuple[float, float] | None = None
    bounding_boxes: tuple[tuple[float, float, float, float] | None, ...] | None = None


@dataclass(frozen=True)
class Segment:
    """Audio ``audio`` (optionally trimmed to audio_start..audio_end) placed on video time start..end."""

    start: float
    end: float
    audio: Path
    audio_start: float | None = None
    audio_end: float | None = None


@dataclass(frozen=True)
class LipSyncOptions:
    model: Model = Model.LIPSYNC_2
    sync_mode: SyncMode = SyncMode.LOOP
    temperature: float = 0.5
    active_speaker: ActiveSpeaker = field(default_factory=ActiveSpeaker)
    occlusion_detection: bool = False
    model_mode: ModelMode = ModelMode.FACE
    prompt: Emotion | None = None
    segments: tuple[Segment, ...] = ()
    # x264 superfast at CRF 16: on real 720p footage 52.2 dB PSNR for the re-encode alone (veryfast CRF 14:
    # 51.8 dB) with 37 % less encoder CPU, for files ~1.8× larger; PSNR outside the mouth stays ≥ 45 dB
    crf: int = 16
    preset: str = "superfast"

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 1.0:
            raise ValueError("temperature must be between 0 and 1")


@dataclass(frozen=True)
class SyncReport:
    """What the engine measured and did; stored with every completed job."""

    av_offset_frames: float | None
    av_confidence: float
    frames_total: int
    frames_edited: int
    frames_passed_through: int
    pass_through_reasons: dict[str, int]
    face_count_max: int = 0
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "av_offset_frames": self.av_offset_frames,
            "av_confidence": self.av_confidence,
            "frames_total": self.frames_total,
            "frames_edited": self.frames_edited,
            "frames_passed_through": self.frames_passed_through,
            "pass_through_reasons": dict(self.pass_through_reasons),
            "face_count_max": self.face_count_max,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class LipSyncResult:
    output: Path
    duration_seconds: float
    frame_count: int
    fps: float
    width: int
    height: int
    report: SyncReport
    stage_seconds: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[str, float], None]
"""Called as ``progress(stage, fraction_done_0_to_1)``; may raise ``CancelledError`` to stop the run."""
