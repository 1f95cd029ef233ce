"""What each model tier adds on top of the mouth renderers, in one place (see docs/MODELS.md).

| tier          | mouth renderer                  | extra stages after the mouth render           |
|---------------|---------------------------------|-----------------------------------------------|
| lipsync-1.9   | warp (no library)               | —                                             |
| lipsync-2     | own-mouth retrieval             | —                                             |
| lipsync-2-pro | retrieval, multi-band blending  | —                                             |
| sync-3        | retrieval, multi-band blending  | jaw/chin/cheek motion; harder poses accepted  |
| react-1       | retrieval, multi-band blending  | brows, blinks, emotion; head motion (``head``)|

``occlusion_detection`` applies to every tier: occluded pixels keep the source frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openlipsync.engine import jaw
from openlipsync.engine.expression import ExpressionRenderer, plan_expression
from openlipsync.engine.occlusion import OcclusionModel
from openlipsync.engine.report import speech_envelope
from openlipsync.engine.tracking import FaceTrack
from openlipsync.engine.types import MouthPlan
from openlipsync.options import LipSyncOptions, Model, ModelMode


def prepare_track(model: Model, track: FaceTrack) -> FaceTrack:
    """sync-3 edits harder poses (more yaw, smaller faces) than the other tiers."""
    return jaw.widen_pose_limits(track) if model == Model.SYNC_3 else track


_Stage = jaw.JawMotion | ExpressionRenderer | OcclusionModel


@dataclass
class PostRender:
    """Stages applied to each edited frame after the mouth render, in order: jaw, expression, occlusion."""

    jaw: jaw.JawMotion | None = None
    expression: ExpressionRenderer | None = None
    occlusion: OcclusionModel | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(s is not None for s in (self.jaw, self.expression, self.occlusion))

    def _stages(self) -> dict[str, _Stage]:
        stages = {"jaw": self.jaw, "expression": self.expression, "occlusion": self.occlusion}
        return {name: stage for name, stage in stages.items() if stage is not None}

    @property
    def seconds(self) -> dict[str, float]:
        return {name: stage.seconds for name, stage in self._stages().items()}

    def counters(self) -> dict[str, float]:
        """Seconds per stage and the occlusion counts, to be summed over render workers with ``add``."""
        out = self.seconds
        if self.occlusion is not None:
            out["occluded"] = self.occlusion.frames_occluded
            out["kept"] = self.occlusion.frames_kept
        return out

    def add(self, counters: dict[str, float]) -> None:
        """Add another copy's ``counters()`` to this one's."""
        for name, stage in self._stages().items():
            stage.seconds += counters.get(name, 0.0)
        if self.occlusion is not None:
            self.occlusion.frames_occluded += int(counters.get("occluded", 0))
            self.occlusion.frames_kept += int(counters.get("kept", 0))

    def apply(self, source: np.ndarray, out: np.ndarray, lm: np.ndarray, i: int, s: int,
              opening: float) -> np.ndarray:
        """Output frame ``i`` (source frame ``s``, landmarks ``lm``, rendered mouth ``opening``)."""
        if self.jaw is not None:
            out = self.jaw.apply(out, lm, opening)
        if self.expression is not None:
            out = self.expression.apply(out, lm, i)
        if self.occlusion is not None:
            out = self.occlusion.protect(source, out, lm, s)
        return out


def post_render(options: LipSyncOptions, mouth_plan: MouthPlan, driving_audio: np.ndarray, sr: int,
                occlusion: OcclusionModel | None = None) -> PostRender:
    """The post-render stages for ``options.model`` (and the occlusion model when enabled)."""
    post = PostRender(occlusion=occlusion)
    if occlusion is not None:
        post.notes.append("occlusion_detection=on")
    if options.model == Model.SYNC_3:
        post.jaw = jaw.JawMotion()
        post.notes.append("sync-3: jaw/chin/cheek motion, harder poses")
    if options.model == Model.REACT_1:
        n, fps = mouth_plan.frame_count, mouth_plan.fps
        env = speech_envelope(driving_audio, sr, fps, n)
        plan = plan_expression(env, mouth_plan.speech, fps, mode=options.model_mode, emotion=options.prompt,
                               temperature=options.temperature, seed=n)
        if options.model_mode != ModelMode.LIPS:
            post.expression = ExpressionRenderer(plan)
        emotion = options.prompt.value if options.prompt else "neutral"
        post.notes.append(f"react-1: model_mode={options.model_mode.value}, prompt={emotion}")
    return post
