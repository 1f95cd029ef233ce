"""Orchestration of one run: stream source frames through the engine stages into the encoder.

Pass 1 (analysis) decodes the source once, tracks the face and collects the mouth library, keeping
only landmarks and small crops. The audio is planned into a mouth shape per output frame. Pass 2
decodes again in output order (``Timeline.source_index``), edits frames that have a usable face, and
streams them to the encoder. Memory stays flat in the video length.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlipsync.engine import mesh, speaker, tiers
from openlipsync.engine.audio.analysis import AudioAnalysis
from openlipsync.engine.library import LibraryBuilder, MouthLibrary
from openlipsync.engine.occlusion import OcclusionBuilder
from openlipsync.engine.render_retrieval import RetrievalRenderer
from openlipsync.engine.render_warp import WarpRenderer
from openlipsync.engine.report import build_report, speech_envelope
from openlipsync.engine.selection import select_mouths
from openlipsync.engine.tracking import FaceTrack, FaceTracker
from openlipsync.engine.types import Calibration, MouthPlan, MouthShapes
from openlipsync.engine.warp import roi_box
from openlipsync.errors import LipSyncError, NoFaceError
from openlipsync.forked import Forked
from openlipsync.media import FrameWriter, load_audio
from openlipsync.media.audio import SAMPLE_RATE
from openlipsync.media.decode import iter_yuv_frames
from openlipsync.media.probe import MediaInfo
from openlipsync.media.timeline import Timeline
from openlipsync.media.yuv import Box, YuvFrame, even_box, frame_bytes
from openlipsync.options import ActiveSpeaker, LipSyncOptions, LipSyncResult, Model, ModelMode, ProgressCallback

log = logging.getLogger("openlipsync.pipeline")

FRAME_CACHE_BYTES = 192 * 1024 * 1024  # decoded frames kept for bounce/loop re-reads
# Edits reach at most this far beyond the face landmarks' box (× its larger side): lips, jaw, chin and
# the feathered mask; react-1's head motion moves the whole head and a band around it.
FACE_MARGIN = 0.35
HEAD_MARGIN = 0.9
# Tiers above lipsync-2-pro are not distinct engines yet; they use the lipsync-2-pro renderer.
RETRIEVAL_TIERS = {Model.LIPSYNC_2: False, Model.LIPSYNC_2_PRO: True, Model.SYNC_3: True, Model.REACT_1: True}


@dataclass(frozen=True)
class RunInputs:
    """Everything a run needs, already validated and prepared by ``openlipsync.lipsync``."""

    visual: MediaInfo
    driving_audio: np.ndarray  # (m,) float32 mono at 16 kHz, already placed on the output timeline
    output_audio: Path  # audio track to mux, exactly timeline.duration long
    timeline: Timeline
    output: Path
    options: LipSyncOptions
    # (n_out,) float32 in [0, 1]: how much of the new mouth to show per output frame. None = edit every
    # frame. With `segments`, frames outside every segment keep their original mouth (0) and the edges ramp.
    edit_weight: np.ndarray | None = None


class _Clock:
    """Accumulates wall time per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt

    def timed(self, it: Iterator[YuvFrame], stage: str) -> Iterator[YuvFrame]:
        """Wrap an iterator, charging the time spent producing each item to ``stage``."""
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.add(stage, time.perf_counter() - t0)
                return
            self.add(stage, time.perf_counter() - t0)
            yield item


class _SourceFrames:
    """Source frame ``k`` on demand, decoding forward and re-decoding (never holding the whole video)
    when the timeline goes backwards (bounce) or restarts (loop)."""

    def __init__(self, info: MediaInfo, n_frames: int, clock: _Clock) -> None:
        self.info, self.n, self.clock = info, max(1, n_frames), clock
        size = max(1, frame_bytes(info.width, info.height))
        self.capacity = max(2, min(self.n, FRAME_CACHE_BYTES // size))
        self._cache: OrderedDict[int, YuvFrame] = OrderedDict()
        self._it: Iterator[YuvFrame] | None = None
        self._pos = 0

    def _restart(self, start: int) -> None:
        if self._it is not None:
            self._it.close()  # type: ignore[attr-defined]
        self._it = self.clock.timed(iter_yuv_frames(self.info, start_frame=start), "decode")
        self._pos = start

    def get(self, k: int) -> YuvFrame:
        k = int(min(max(k, 0), self.n - 1))
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        if self._it is None or k < self._pos:
            self._restart(max(0, k - self.capacity + 1) if self._it is not None else 0)
        assert self._it is not None
        frame = None
        while self._pos <= k:
            frame = next(self._it, None)
            if frame is None:  # fewer frames than probed: hold the last one
                self.n = max(1, self._pos)
                return self._cache[next(reversed(self._cache))] if self._cache else self.get(self.n - 1)
            self._cache[self._pos] = frame
            self._pos += 1
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        assert frame is not None
        return frame

    def close(self) -> None:
        if self._it is not None:
            self._it.close()  # type: ignore[attr-defined]
        self._cache.clear()


def analyse(info: MediaInfo, fps: float, clock: _Clock, progress: ProgressCallback,
            library: LibraryBuilder | None, speaker_option: ActiveSpeaker | None = None,
            notes: list[str] | None = None, occlusion: OcclusionBuilder | None = None) -> FaceTrack:
    """Pass 1: track faces over every source frame; feed the mouth library; choose the speaker."""
    tracker = FaceTracker(fps, info.width, info.height)
    total = max(1, info.frame_count)
    for i, frame in enumerate(clock.timed(iter_yuv_frames(info), "decode")):
        with clock("track"):
            faces = tracker.update(frame.preview_rgb())
        for ident, lm in faces.items() if library is not None or occlusion is not None else ():
            with clock("library"):
                view, lm_view, _ = face_view(frame, lm, info.color_matrix)
                if library is not None:
                    library.offer(i, view, {ident: lm_view})
            if occlusion is not None:
                with clock("occlusion"):
                    occlusion.offer(i, view, {ident: lm_view})
        progress("analyse", min(1.0, (i + 1) / total))
    with clock("track"):
        track, choice = speaker.select_track(tracker, speaker_option or ActiveSpeaker(),
                                             _own_envelope(info, fps))
    if notes is not None and choice.method != "single_face":
        notes.append(choice.note())
    return track


def face_box(lm: np.ndarray, width: int, height: int, margin: float = FACE_MARGIN) -> Box:
    """The region of a ``width``×``height`` frame that an edit of the face ``lm`` may touch."""
    size = float(np.ptp(lm, axis=0).max())
    return even_box(roi_box(lm, (height, width), margin * size), width, height)


def face_view(frame: YuvFrame, lm: np.ndarray, matrix: str, margin: float = FACE_MARGIN
              ) -> tuple[np.ndarray, np.ndarray, Box]:
    """(RGB of the face region, landmarks in its coordinates, the region) — stages edit only this."""
    box = face_box(lm, frame.width, frame.height, margin)
    return frame.to_rgb(matrix, box), (lm - np.array(box[:2], np.float32)).astype(np.float32), box


def _own_envelope(info: MediaInfo, fps: float) -> Callable[[int], np.ndarray | None]:
    """Loader of the video's own speech loudness per source frame (for active-speaker detection)."""
    def envelope(n: int) -> np.ndarray | None:
        if info.is_image or not info.has_audio:
            return None
        try:
            return speech_envelope(load_audio(info), SAMPLE_RATE, fps, n)
        except LipSyncError as exc:
            log.warning("cannot read the video's own audio for speaker detection: %s", exc)
            return None
    return envelope


def measured_shapes(track: FaceTrack) -> MouthShapes:
    """Mouth opening/width of every source frame (0 where unusable)."""
    lm = np.nan_to_num(track.landmarks)
    ok = track.valid
    opening = np.where(ok, mesh.mouth_opening(lm), 0.0).astype(np.float32)
    width = np.where(ok, mesh.mouth_width(lm), 0.0).astype(np.float32)
    return MouthShapes(np.nan_to_num(opening), np.nan_to_num(width), ok.copy())


def calibration_for(info: MediaInfo, track: FaceTrack, fps: float, own: np.ndarray | None = None
                    ) -> Calibration | None:
    """The input video's own speech and mouth, when it has an audio track (``own``: already loaded)."""
    if info.is_image or not info.has_audio or track.valid.sum() < 2 * fps:
        return None
    if own is None:
        try:
            own = load_audio(info)
        except LipSyncError as exc:
            log.warning("cannot read the video's own audio for calibration: %s", exc)
            return None
    return Calibration(own, SAMPLE_RATE, fps, measured_shapes(track))


@dataclass(frozen=True)
class AudioAhead:
    """The audio work that does not depend on the face track, done while the video is analysed."""

    driving: AudioAnalysis | None
    own_audio: np.ndarray | None = None
    own: AudioAnalysis | None = None


def analyse_audio(inputs: RunInputs, src_fps: float) -> AudioAhead:
    """Analyse the driving audio and the video's own speech (for calibration)."""
    from openlipsync.engine.audio.calibrate import own_analysis
    from openlipsync.engine.plan import driving_analysis

    tl, vis = inputs.timeline, inputs.visual
    if tl.frame_count <= 0:
        return AudioAhead(None)
    driving = driving_analysis(inputs.driving_audio, SAMPLE_RATE, tl.fps, tl.frame_count)
    if vis.is_image or not vis.has_audio or vis.frame_count <= 0:
        return AudioAhead(driving)
    try:
        own_audio = load_audio(vis)
    except LipSyncError as exc:
        log.warning("cannot read the video's own audio for calibration: %s", exc)
        return AudioAhead(driving)
    return AudioAhead(driving, own_audio, own_analysis(own_audio, SAMPLE_RATE, src_fps, vis.frame_count))


def plan(inputs: RunInputs, calibration: Calibration | None, ahead: AudioAhead | None = None) -> MouthPlan:
    """Target mouth per output frame (engine.plan, owned by the audio stage)."""
    from openlipsync.engine.plan import plan_mouth

    tl = inputs.timeline
    return plan_mouth(inputs.driving_audio, SAMPLE_RATE, tl.fps, tl.frame_count, calibration=calibration,
                      temperature=inputs.options.temperature, analysis=ahead.driving if ahead else None,
                      own_analysis=ahead.own if ahead else None)


def _renderer(model: Model, library: MouthLibrary | None) -> tuple[WarpRenderer | RetrievalRenderer, str]:
    if model in RETRIEVAL_TIERS and library is not None and library.usable:
        return RetrievalRenderer(library, pro=RETRIEVAL_TIERS[model]), "retrieval"
    return WarpRenderer(), "warp"


def run(inputs: RunInputs, progress: ProgressCallback) -> LipSyncResult:
    """Produce the output video and its sync report."""
    t_start = time.perf_counter()
    clock = _Clock()
    tl, vis, opts = inputs.timeline, inputs.visual, inputs.options
    src_fps = vis.fps if vis.fps > 0 else tl.fps
    wants_library = opts.model in RETRIEVAL_TIERS and not vis.is_image
    builder = LibraryBuilder(src_fps) if wants_library else None
    speaker_notes: list[str] = []
    occ_builder = OcclusionBuilder() if opts.occlusion_detection else None
    # the audio analysis holds the GIL (pocketsphinx): it runs in a child process during the video pass
    audio_ahead = Forked(lambda: analyse_audio(inputs, src_fps))
    try:
        track = analyse(vis, src_fps, clock, progress, builder, opts.active_speaker, speaker_notes, occ_builder)
        track = tiers.prepare_track(opts.model, track)
        if not track.valid.any():
            reasons = sorted({r for r in track.reason if r})
            raise NoFaceError(f"{vis.path.name}: no usable face in any frame "
                              f"({', '.join(reasons) or 'no_face'})")
        with clock("audio"):
            ahead = audio_ahead.result()
            calibration = calibration_for(vis, track, src_fps, ahead.own_audio)
    finally:
        audio_ahead.cancel()
    with clock("plan"):
        mouth_plan = plan(inputs, calibration, ahead)
    library = builder.finish(track) if builder is not None else None
    post = tiers.post_render(opts, mouth_plan, inputs.driving_audio, SAMPLE_RATE,
                             occ_builder.finish(track) if occ_builder is not None else None)
    renderer, kind = _renderer(opts.model, library)
    notes = [f"renderer={kind}", f"model={opts.model.value}", *speaker_notes]
    notes += post.notes
    src_index = np.minimum(tl.source_index, track.frame_count - 1)
    picks = None
    if isinstance(renderer, RetrievalRenderer):
        with clock("select"):
            picks = select_mouths(renderer.library, mouth_plan, track.pose[src_index], track.valid[src_index])
    edited, reasons, rendered_open = _render_pass(inputs, track, mouth_plan, renderer, picks, clock, progress,
                                                  post)
    for stage_name, seconds in post.seconds.items():
        clock.add(stage_name, seconds)
    if post.occlusion is not None:
        notes.append(f"occlusion: {post.occlusion.frames_occluded} frames masked, "
                     f"{post.occlusion.frames_kept} kept whole")
    clock.add("render", renderer.times.render)
    clock.add("blend", renderer.times.blend)
    env = speech_envelope(inputs.driving_audio, SAMPLE_RATE, tl.fps, tl.frame_count)
    report = build_report(tl.frame_count, edited, reasons, env, rendered_open,
                          int(track.face_count.max(initial=0)), tuple(notes))
    stage = dict(clock.seconds)
    stage["total"] = time.perf_counter() - t_start
    return LipSyncResult(inputs.output, tl.duration, tl.frame_count, tl.fps, vis.width, vis.height, report,
                         stage)


def _render_pass(inputs: RunInputs, track: FaceTrack, mouth_plan: MouthPlan,
                 renderer: WarpRenderer | RetrievalRenderer, picks: np.ndarray | None, clock: _Clock,
                 progress: ProgressCallback, post: tiers.PostRender | None = None
                 ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Pass 2: decode in output order, edit frames with a usable face, encode. Returns per output frame
    (edited?, pass-through reason, rendered mouth opening)."""
    tl, vis, opts = inputs.timeline, inputs.visual, inputs.options
    n = tl.frame_count
    edited = np.zeros(n, bool)
    reasons = [""] * n
    rendered = np.zeros(n, np.float32)
    frames = _SourceFrames(vis, track.frame_count, clock)
    margin = HEAD_MARGIN if opts.model == Model.REACT_1 and opts.model_mode == ModelMode.HEAD else FACE_MARGIN
    try:
        with FrameWriter(inputs.output, width=vis.width, height=vis.height, fps=tl.fps,
                         audio=inputs.output_audio, crf=opts.crf, preset=opts.preset,
                         color_matrix=vis.color_matrix, yuv=True) as writer:
            for i in range(n):
                s = int(min(tl.source_index[i], track.frame_count - 1))
                frame = frames.get(s)
                out = frame
                weight = 1.0 if inputs.edit_weight is None else float(inputs.edit_weight[i])
                if weight <= 0.0:
                    reasons[i] = "outside_segments"
                elif picks is not None and picks[i] < 0:
                    reasons[i] = str(track.reason[s]) or "no_mouth_match"
                elif track.valid[s]:
                    with clock("blend"):
                        view, lm, box = face_view(frame, track.landmarks[s], vis.color_matrix, margin)
                    if picks is not None and isinstance(renderer, RetrievalRenderer):
                        edit, rendered[i] = renderer.render(view, lm, track.pose[s], int(picks[i]), i,
                                                            target=float(mouth_plan.opening[i]))
                    else:
                        assert isinstance(renderer, WarpRenderer)
                        op, wd = float(mouth_plan.opening[i]), float(mouth_plan.width[i])
                        edit = renderer.render(view, lm, op, wd)
                        rendered[i] = op
                    if post is not None and post.active:
                        edit = post.apply(view, edit, lm, i, s, float(rendered[i]))
                    if weight < 1.0:
                        edit = _mix(view, edit, weight)
                        rendered[i] *= weight
                    with clock("blend"):
                        out = frame.with_rgb(vis.color_matrix, box, view, edit)
                    edited[i] = True
                else:
                    reasons[i] = str(track.reason[s])
                with clock("encode"):
                    writer.write(out)
                progress("render", (i + 1) / n)
    finally:
        frames.close()
    return edited, reasons, rendered


def _mix(original: np.ndarray, edited: np.ndarray, weight: float) -> np.ndarray:
    """Partial edit at segment edges; unchanged pixels stay byte-identical."""
    diff = np.any(original != edited, axis=2)
    out = original.copy()
    out[diff] = np.clip(original[diff] * (1 - weight) + edited[diff] * weight + 0.5, 0, 255).astype(np.uint8)
    return out
