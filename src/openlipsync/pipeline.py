"""Orchestration of one run: stream source frames through the engine stages into the encoder.

Pass 1 (analysis) decodes the source once, tracks the face and collects the mouth library, keeping
only landmarks and small crops (the decoded frames go to a temporary file, ``media.spill``, while it is
within its budget). The audio is planned into a mouth shape per output frame. Pass 2 reads the frames
back, or decodes again, in output order (``Timeline.source_index``), edits frames that have a usable
face, and streams them to the encoder. Memory stays flat in the video length.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from openlipsync.analysis_cache import AnalysisCache, VideoAnalysis, media_key
from openlipsync.engine import geometry, mesh, speaker, tiers
from openlipsync.engine.audio.analysis import AudioAnalysis
from openlipsync.engine.library import LibraryBuilder, MouthLibrary
from openlipsync.engine.occlusion import OcclusionBuilder
from openlipsync.engine.render_retrieval import RetrievalRenderer
from openlipsync.engine.render_warp import WarpRenderer
from openlipsync.engine.report import build_report, speech_envelope
from openlipsync.engine.selection import select_mouths
from openlipsync.engine.tracking import FaceTrack, FaceTracker, scene_thumb_from_luma
from openlipsync.engine.types import Calibration, MouthPlan, MouthShapes
from openlipsync.engine.warp import roi_box
from openlipsync.errors import EngineError, LipSyncError, NoFaceError
from openlipsync.forked import Forked, ForkedMap, WorkerError
from openlipsync.media import FrameWriter, load_video_audio
from openlipsync.media.audio import SAMPLE_RATE, fit_audio_track
from openlipsync.media.decode import iter_yuv_frames
from openlipsync.media.probe import MediaInfo
from openlipsync.media.spill import FrameSpill
from openlipsync.media.timeline import Timeline
from openlipsync.media.yuv import Box, YuvFrame, even_box, frame_bytes
from openlipsync.options import ActiveSpeaker, LipSyncOptions, LipSyncResult, Model, ModelMode, ProgressCallback
from openlipsync.prefetch import prefetched

log = logging.getLogger("openlipsync.pipeline")
_T = TypeVar("_T")

FRAME_CACHE_BYTES = 192 * 1024 * 1024  # decoded frames kept for bounce/loop re-reads
# A video whose decoded frames fit in this many bytes is decoded once: the analysis pass sets its frames
# aside in a temporary file for the render pass (≈ 60 s of 720p25, 26 s of 1080p25; see media.spill).
# OPENLIPSYNC_FRAME_SPILL_MB overrides it (0: decode twice).
FRAME_SPILL_BYTES = 2048 * 1024 * 1024
# Edits reach at most this far beyond the face landmarks' box (× its larger side): lips, jaw, chin and
# the feathered mask; react-1's head motion moves the whole head and a band around it.
FACE_MARGIN = 0.35
HEAD_MARGIN = 0.9
# Tiers that edit only the lower face (mouth render, no post stages) convert a box around the lower-face
# polygon: the renderers change nothing outside that polygon (it already leaves room for the chin to move)
# and work in its bounding box grown by 2 px (``render_warp.lower_face_region``).
MOUTH_MARGIN = 0.0
BOX_PAD_PX = 4
MAX_RENDER_WORKERS = 4
MIN_FRAMES_TO_FORK = 12
# Tiers above lipsync-2-pro are not distinct engines yet; they use the lipsync-2-pro renderer.
RETRIEVAL_TIERS = {Model.LIPSYNC_2: False, Model.LIPSYNC_2_PRO: True, Model.SYNC_3: True, Model.REACT_1: True}


@dataclass(frozen=True)
class RunInputs:
    """Everything a run needs, already validated and prepared by ``openlipsync.lipsync``."""

    visual: MediaInfo
    # (m,) float32 mono at 16 kHz, already placed on the output timeline; None: cut from ``sound`` by the
    # audio stage, which then also writes ``output_audio`` (at the same time as the video pass)
    driving_audio: np.ndarray | None
    output_audio: Path  # audio track to mux, exactly timeline.duration long
    timeline: Timeline
    output: Path
    options: LipSyncOptions
    # (n_out,) float32 in [0, 1]: how much of the new mouth to show per output frame. None = edit every
    # frame. With `segments`, frames outside every segment keep their original mouth (0) and the edges ramp.
    edit_weight: np.ndarray | None = None
    sound: MediaInfo | None = None  # the driving audio's source, when ``driving_audio`` is None

    @property
    def driving(self) -> np.ndarray:
        """The driving audio (once the audio stage has prepared it)."""
        if self.driving_audio is None:
            raise ValueError("the driving audio has not been prepared")
        return self.driving_audio


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

    def timed(self, it: Iterator[_T], stage: str) -> Iterator[_T]:
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


def frame_spill_bytes() -> int:
    """Budget of the decoded frames the analysis pass sets aside (``OPENLIPSYNC_FRAME_SPILL_MB``)."""
    env = os.environ.get("OPENLIPSYNC_FRAME_SPILL_MB", "").strip()
    return int(env) * 1024 * 1024 if env.isdigit() else FRAME_SPILL_BYTES


class _SourceFrames:
    """Source frame ``k`` on demand: read back from the analysis pass's ``spill`` when it holds every
    frame, else decoded forward and re-decoded (never holding the whole video) when the timeline goes
    backwards (bounce) or restarts (loop)."""

    def __init__(self, info: MediaInfo, n_frames: int, clock: _Clock, *, rereads: bool = True,
                 spill: FrameSpill | None = None) -> None:
        self.info, self.n, self.clock = info, max(1, n_frames), clock
        self.spill = spill if spill is not None and spill.complete else None
        size = max(1, frame_bytes(info.width, info.height))
        # a timeline that only moves forward (cut_off, silence, remap) needs no cache of past frames
        self.capacity = max(2, min(self.n, FRAME_CACHE_BYTES // size)) if rereads else 2
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
        if self.spill is not None:
            with self.clock("decode"):
                return self.spill.read(min(k, self.spill.count - 1))
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
            notes: list[str] | None = None, occlusion: OcclusionBuilder | None = None,
            own: Callable[[], np.ndarray | None] | None = None, spill: FrameSpill | None = None) -> FaceTrack:
    """Pass 1: track faces over every source frame; feed the mouth library; choose the speaker
    (``own``: gives the video's own sound when already loaded elsewhere; ``spill``: sets the decoded
    frames aside for the render pass)."""
    tracker = FaceTracker(fps, info.width, info.height)
    total = max(1, info.frame_count)
    # a pipeline of threads (OpenCV and MediaPipe release the GIL): frame k+2 is converted for the detector
    # while the face mesh runs on frame k+1 and frame k is assigned, smoothed and offered to the library here
    decoded = iter_yuv_frames(info) if spill is None else spill.keep(iter_yuv_frames(info))
    previews = prefetched((_detector_input(f) for f in decoded), 2)
    observed = prefetched(((f, tracker.observe(rgb, thumb)) for f, rgb, thumb in previews), 2)
    for i, (frame, observation) in enumerate(clock.timed(observed, "track")):
        with clock("track"):
            faces = tracker.assign(observation)
        for ident, lm in faces.items() if library is not None or occlusion is not None else ():
            with clock("library"):
                if occlusion is None:  # only the library's mouth crop needs pixels: convert just those
                    assert library is not None
                    if not library.wants(i, ident, lm):
                        continue  # checked first: the face's canonical frame comes from a frame it keeps
                    box = region_box(library.region(ident, lm), info.width, info.height)
                    if box[2] <= box[0] or box[3] <= box[1]:
                        continue  # the mouth is outside the picture
                    view, lm_view, box = _view(frame, lm, info.color_matrix, box)
                else:
                    view, lm_view, box = face_view(frame, lm, info.color_matrix)
                if library is not None:
                    library.offer(i, view, {ident: lm_view}, box[:2])
            if occlusion is not None:
                with clock("occlusion"):
                    occlusion.offer(i, view, {ident: lm_view}, box[:2])
        progress("analyse", min(1.0, (i + 1) / total))
    with clock("track"):
        track, choice = speaker.select_track(tracker, speaker_option or ActiveSpeaker(),
                                             _own_envelope(info, fps, own))
    if notes is not None and choice.method != "single_face":
        notes.append(choice.note())
    return track


def _detector_input(frame: YuvFrame) -> tuple[YuvFrame, np.ndarray, np.ndarray]:
    """(frame, its RGB preview for the face mesh, its scene-cut thumbnail)."""
    return frame, frame.preview_rgb(), scene_thumb_from_luma(frame.y)


def face_box(lm: np.ndarray, width: int, height: int, margin: float = FACE_MARGIN, *,
             lower_face: bool = False) -> Box:
    """The region of a ``width``×``height`` frame that an edit of the face ``lm`` may touch
    (``lower_face``: an edit of the mouth, lips and jaw only)."""
    pts = geometry.lower_face_polygon(lm) if lower_face else lm
    size = float(np.ptp(pts, axis=0).max())
    return even_box(roi_box(pts, (height, width), margin * size + BOX_PAD_PX), width, height)


def face_view(frame: YuvFrame, lm: np.ndarray, matrix: str, margin: float = FACE_MARGIN, *,
              lower_face: bool = False) -> tuple[np.ndarray, np.ndarray, Box]:
    """(RGB of the face region, landmarks in its coordinates, the region) — stages edit only this."""
    return _view(frame, lm, matrix, face_box(lm, frame.width, frame.height, margin, lower_face=lower_face))


def region_box(corners: tuple[np.ndarray, np.ndarray], width: int, height: int) -> Box:
    """The box of whole pixels around the region between two (x, y) corners, clipped to the frame (it may
    be empty when the region lies outside)."""
    (x0, y0), (x1, y1) = np.floor(corners[0]).astype(int), np.ceil(corners[1]).astype(int) + 1
    return even_box((int(x0), int(y0), int(x1), int(y1)), width, height)


def _view(frame: YuvFrame, lm: np.ndarray, matrix: str, box: Box) -> tuple[np.ndarray, np.ndarray, Box]:
    return frame.to_rgb(matrix, box), (lm - np.array(box[:2], np.float32)).astype(np.float32), box


def _own_envelope(info: MediaInfo, fps: float, own: Callable[[], np.ndarray | None] | None = None
                  ) -> Callable[[int], np.ndarray | None]:
    """Loader of the video's own speech loudness per source frame (for active-speaker detection)."""
    def envelope(n: int) -> np.ndarray | None:
        if info.is_image or not info.has_audio:
            return None
        sound = own() if own is not None else own_audio(info, "speaker detection")
        return None if sound is None else speech_envelope(sound, SAMPLE_RATE, fps, n)
    return envelope


def own_audio(info: MediaInfo, purpose: str) -> np.ndarray | None:
    """The video's own sound at the analysis rate on the video's clock, or None (logged) when it cannot be
    read."""
    try:
        return load_video_audio(info)
    except LipSyncError as exc:
        log.warning("cannot read the video's own audio for %s: %s", purpose, exc)
        return None


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
        own = own_audio(info, "calibration")
    if own is None:
        return None
    return Calibration(own, SAMPLE_RATE, fps, measured_shapes(track))


@dataclass(frozen=True)
class AudioAhead:
    """The audio work that does not depend on the face track, done while the video is analysed."""

    driving_audio: np.ndarray | None  # the driving audio this stage prepared (None: the inputs had it)
    driving: AudioAnalysis | None
    own_audio: np.ndarray | None = None
    own: AudioAnalysis | None = None


def analyse_audio(inputs: RunInputs, src_fps: float, *, own: bool = True) -> AudioAhead:
    """Prepare and analyse the driving audio; analyse the video's own speech (for calibration) unless
    ``own`` is False."""
    from openlipsync.engine.audio.calibrate import own_analysis
    from openlipsync.engine.plan import driving_analysis

    audio = prepared = None
    if inputs.driving_audio is not None:
        audio = inputs.driving_audio
    elif inputs.sound is not None:  # cut the output's track, and the analysis copy, from the driving audio
        audio = prepared = fit_audio_track(inputs.sound, inputs.timeline.duration, inputs.output_audio)
    else:
        raise ValueError("RunInputs needs driving_audio or sound")
    tl, vis = inputs.timeline, inputs.visual
    if tl.frame_count <= 0:
        return AudioAhead(prepared, None)
    driving = driving_analysis(audio, SAMPLE_RATE, tl.fps, tl.frame_count)
    if not own or vis.is_image or not vis.has_audio or vis.frame_count <= 0:
        return AudioAhead(prepared, driving)
    sound = own_audio(vis, "calibration")
    if sound is None:
        return AudioAhead(prepared, driving)
    return AudioAhead(prepared, driving, sound, own_analysis(sound, SAMPLE_RATE, src_fps, vis.frame_count))


def plan(inputs: RunInputs, calibration: Calibration | None, ahead: AudioAhead | None = None) -> MouthPlan:
    """Target mouth per output frame (engine.plan, owned by the audio stage)."""
    from openlipsync.engine.plan import plan_mouth

    tl = inputs.timeline
    return plan_mouth(inputs.driving, SAMPLE_RATE, tl.fps, tl.frame_count, calibration=calibration,
                      temperature=inputs.options.temperature, analysis=ahead.driving if ahead else None,
                      own_analysis=ahead.own if ahead else None)


def _renderer(model: Model, library: MouthLibrary | None) -> tuple[WarpRenderer | RetrievalRenderer, str]:
    if model in RETRIEVAL_TIERS and library is not None and library.usable:
        return RetrievalRenderer(library, pro=RETRIEVAL_TIERS[model]), "retrieval"
    return WarpRenderer(), "warp"


def run(inputs: RunInputs, progress: ProgressCallback) -> LipSyncResult:
    """Produce the output video and its sync report."""
    vis = inputs.visual
    with FrameSpill(vis.width, vis.height, frame_spill_bytes(), inputs.output.parent,
                    expected_frames=vis.frame_count) as spill:
        return _run(inputs, progress, spill)


def _run(inputs: RunInputs, progress: ProgressCallback, spill: FrameSpill) -> LipSyncResult:
    t_start = time.perf_counter()
    clock = _Clock()
    tl, vis, opts = inputs.timeline, inputs.visual, inputs.options
    src_fps = vis.fps if vis.fps > 0 else tl.fps
    cache = AnalysisCache.from_env() if not vis.is_image else None
    key, saved = "", None
    if cache is not None:
        with clock("reuse"):
            key = cache.key(vis, opts)
            saved = cache.load(key, vis)
    storing = None
    if saved is None:
        saved, inputs, ahead, mouth_plan = _analyse_video(inputs, src_fps, clock, progress, spill)
        if cache is not None:  # written while the render pass runs
            storing = threading.Thread(target=cache.store, args=(key, saved), name="analysis-cache")
            storing.start()
    else:
        log.info("%s: analysis reused from the cache", vis.path.name)
        inputs, mouth_plan = _reuse_analysis(inputs, saved, src_fps, clock, progress, spill)
        saved = replace(saved, notes=(*saved.notes, "analysis reused from the cache"))
    try:
        return _render(inputs, saved, mouth_plan, clock, progress, spill, t_start)
    finally:
        if storing is not None:
            storing.join()


def _with_driving_audio(inputs: RunInputs, ahead: AudioAhead) -> RunInputs:
    """``inputs`` with the driving audio the audio stage prepared (when it prepared it)."""
    return inputs if ahead.driving_audio is None else replace(inputs, driving_audio=ahead.driving_audio)


def _reuse_analysis(inputs: RunInputs, saved: VideoAnalysis, src_fps: float, clock: _Clock,
                    progress: ProgressCallback, spill: FrameSpill) -> tuple[RunInputs, MouthPlan]:
    """With the video's analysis known: the new speech analysed (in a child, while the video is decoded
    into ``spill`` for the render pass: a core each), the prepared inputs and the plan."""
    vis = inputs.visual
    audio_ahead = Forked(lambda: analyse_audio(inputs, src_fps, own=False))
    try:
        if spill.capacity:  # (a video known not to fit is decoded by the render pass instead)
            for i, _ in enumerate(clock.timed(spill.keep(iter_yuv_frames(vis)), "decode")):
                progress("analyse", min(1.0, (i + 1) / max(1, vis.frame_count)))
        progress("analyse", 1.0)
        with clock("audio"):
            ahead = replace(audio_ahead.result(), own=saved.own)
    finally:
        audio_ahead.cancel()
    inputs = _with_driving_audio(inputs, ahead)
    with clock("plan"):
        return inputs, plan(inputs, saved.calibration, ahead)


def _analyse_video(inputs: RunInputs, src_fps: float, clock: _Clock, progress: ProgressCallback,
                   spill: FrameSpill) -> tuple[VideoAnalysis, RunInputs, AudioAhead, MouthPlan]:
    """Pass 1 and what follows from it: the video's analysis, the prepared inputs, the audio and the plan."""
    vis, opts = inputs.visual, inputs.options
    wants_library = opts.model in RETRIEVAL_TIERS and not vis.is_image
    builder = LibraryBuilder(src_fps) if wants_library else None
    speaker_notes: list[str] = []
    occ_builder = OcclusionBuilder() if opts.occlusion_detection else None
    # the audio analysis holds the GIL (pocketsphinx): it runs in a child process during the video pass
    audio_ahead = Forked(lambda: analyse_audio(inputs, src_fps))
    try:
        track = analyse(vis, src_fps, clock, progress, builder, opts.active_speaker, speaker_notes, occ_builder,
                        own=lambda: audio_ahead.result().own_audio, spill=spill)
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
    inputs = _with_driving_audio(inputs, ahead)

    def planned() -> MouthPlan:
        with clock("plan"):
            return plan(inputs, calibration, ahead)

    # the plan, the mouth library and the occlusion model each need only the track: the plan runs on a
    # thread beside the other two (numpy and OpenCV release the GIL)
    with ThreadPoolExecutor(1) as pool:
        planning = pool.submit(planned)
        library = builder.finish(track) if builder is not None else None
        occlusion = occ_builder.finish(track) if occ_builder is not None else None
        mouth_plan = planning.result()
    saved = VideoAnalysis(media_key(vis), track, library, occlusion, calibration, ahead.own, tuple(speaker_notes))
    return saved, inputs, ahead, mouth_plan


def _render(inputs: RunInputs, saved: VideoAnalysis, mouth_plan: MouthPlan, clock: _Clock,
            progress: ProgressCallback, spill: FrameSpill | None, t_start: float) -> LipSyncResult:
    """Pass 2 (render and encode) and the sync report."""
    tl, vis, opts = inputs.timeline, inputs.visual, inputs.options
    track, library = saved.track, saved.library
    # the occlusion model counts and caches as it works: the render gets its own copy (the saved one may be
    # being written to the analysis cache meanwhile)
    occlusion = copy.deepcopy(saved.occlusion)
    post = tiers.post_render(opts, mouth_plan, inputs.driving, SAMPLE_RATE, occlusion)
    renderer, kind = _renderer(opts.model, library)
    notes = [f"renderer={kind}", f"model={opts.model.value}", *saved.notes]
    if vis.variable_rate:
        notes.append(f"the video skips frames: put on its {vis.fps:g} fps grid, a skipped slot holding the "
                     "picture before it")
    notes += post.notes
    src_index = np.minimum(tl.source_index, track.frame_count - 1)
    picks = None
    if isinstance(renderer, RetrievalRenderer):
        with clock("select"):
            picks = select_mouths(renderer.library, mouth_plan, track.pose[src_index], track.valid[src_index])
    edited, reasons, rendered_open = _render_pass(inputs, track, mouth_plan, renderer, picks, clock, progress,
                                                  post, spill)
    for stage_name, seconds in post.seconds.items():
        clock.add(stage_name, seconds)
    if post.occlusion is not None:
        notes.append(f"occlusion: {post.occlusion.frames_occluded} frames masked, "
                     f"{post.occlusion.frames_kept} kept whole")
    clock.add("render", renderer.times.render)
    clock.add("blend", renderer.times.blend)
    env = speech_envelope(inputs.driving, SAMPLE_RATE, tl.fps, tl.frame_count)
    report = build_report(tl.frame_count, edited, reasons, env, rendered_open,
                          int(track.face_count.max(initial=0)), tuple(notes))
    stage = dict(clock.seconds)
    stage["total"] = time.perf_counter() - t_start
    return LipSyncResult(inputs.output, tl.duration, tl.frame_count, tl.fps, vis.width, vis.height, report,
                         stage)


@dataclass(frozen=True)
class _Edit:
    """One face region to edit: output frame ``i`` made from source frame ``s``."""

    i: int
    s: int
    view: np.ndarray  # RGB of the face box
    lm: np.ndarray  # landmarks in box coordinates
    prev: int  # library entry shown on output frame i - 1 (-1: none), for the cross-fade
    weight: float


class _Editor:
    """Edits face regions: the mouth render, then the tier's post stages and the segment weight.

    It keeps no state from frame to frame, so render worker processes can share the frames out."""

    def __init__(self, renderer: WarpRenderer | RetrievalRenderer, picks: np.ndarray | None, track: FaceTrack,
                 mouth_plan: MouthPlan, post: tiers.PostRender | None) -> None:
        self.renderer, self.picks, self.track, self.plan, self.post = renderer, picks, track, mouth_plan, post

    def __call__(self, job: _Edit) -> tuple[np.ndarray, float]:
        if self.picks is not None and isinstance(self.renderer, RetrievalRenderer):
            edit, opening = self.renderer.render(job.view, job.lm, self.track.pose[job.s], int(self.picks[job.i]),
                                                 job.prev, target=float(self.plan.opening[job.i]))
        else:
            assert isinstance(self.renderer, WarpRenderer)
            opening, width = float(self.plan.opening[job.i]), float(self.plan.width[job.i])
            edit = self.renderer.render(job.view, job.lm, opening, width)
        if self.post is not None and self.post.active:
            edit = self.post.apply(job.view, edit, job.lm, job.i, job.s, opening)
        if job.weight < 1.0:
            edit = _mix(job.view, edit, job.weight)
            opening *= job.weight
        return edit, opening

    def counters(self) -> dict[str, float]:
        """Time and counts accumulated by this editor (collected from each render worker)."""
        post = self.post.counters() if self.post is not None else {}
        return {"render": self.renderer.times.render, "blend": self.renderer.times.blend, **post}

    def add(self, counters: dict[str, float]) -> None:
        """Add a worker's ``counters()`` to this editor's."""
        self.renderer.times.render += counters.get("render", 0.0)
        self.renderer.times.blend += counters.get("blend", 0.0)
        if self.post is not None:
            self.post.add(counters)


def render_workers(frames_to_edit: int) -> int:
    """Processes that render in parallel: one per available core (at most MAX_RENDER_WORKERS, and
    ``OPENLIPSYNC_RENDER_WORKERS`` when set); short runs render inline (forking is not worth it)."""
    env = os.environ.get("OPENLIPSYNC_RENDER_WORKERS", "").strip()
    if env.isdigit():
        wanted = int(env)
    else:
        wanted = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                     MAX_RENDER_WORKERS)
    return 1 if frames_to_edit < MIN_FRAMES_TO_FORK or not hasattr(os, "fork") else max(1, wanted)


def _render_pass(inputs: RunInputs, track: FaceTrack, mouth_plan: MouthPlan,
                 renderer: WarpRenderer | RetrievalRenderer, picks: np.ndarray | None, clock: _Clock,
                 progress: ProgressCallback, post: tiers.PostRender | None = None, spill: FrameSpill | None = None
                 ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Pass 2: source frames in output order (from pass 1's ``spill``, or decoded again), edit frames with a
    usable face, encode. Returns per output frame (edited?, pass-through reason, rendered mouth opening).

    The face regions are edited by render worker processes (forked, so they share the library and the
    plan) while this process reads, converts and encodes; results are written in order."""
    tl, vis, opts = inputs.timeline, inputs.visual, inputs.options
    n = tl.frame_count
    edited = np.zeros(n, bool)
    reasons = [""] * n
    rendered = np.zeros(n, np.float32)
    src = np.minimum(tl.source_index[:n], track.frame_count - 1).astype(int)
    weights = np.ones(n, np.float32) if inputs.edit_weight is None else np.asarray(inputs.edit_weight, np.float32)
    usable = (weights > 0) & track.valid[src] & (picks >= 0 if picks is not None else True)
    lower_face = post is None or not post.active  # only the mouth renderer edits: a smaller box to convert
    margin = (HEAD_MARGIN if opts.model == Model.REACT_1 and opts.model_mode == ModelMode.HEAD
              else MOUTH_MARGIN if lower_face else FACE_MARGIN)
    editor = _Editor(renderer, picks, track, mouth_plan, post)
    workers = render_workers(int(usable.sum()))
    # (no cv2.setNumThreads in the workers: after a fork it waits forever on the parent's thread pool)
    pool = ForkedMap(editor, workers, finish=editor.counters) if workers > 1 else None
    window = 2 * workers + 2  # frames in flight: enough to keep every worker busy, memory stays flat
    pending: deque[tuple[int, YuvFrame, Box | None, np.ndarray | None, _Edit | None]] = deque()
    frames = _SourceFrames(vis, track.frame_count, clock, rereads=bool(np.any(np.diff(src) < 0)), spill=spill)
    written = 0

    def write_oldest(writer: FrameWriter) -> None:
        nonlocal written
        i, frame, box, view, job = pending.popleft()
        out = frame
        if job is not None:
            edit, rendered[i] = pool.result() if pool is not None else editor(job)
            with clock("blend"):
                # a frame read back from the spill is this pass's own copy: edit it where it is
                out = frame.with_rgb(vis.color_matrix, box, view, edit,  # type: ignore[arg-type]
                                     in_place=frames.spill is not None)
        with clock("encode"):
            writer.write(out)
        written += 1
        progress("render", written / n)

    try:
        with FrameWriter(inputs.output, width=vis.width, height=vis.height, fps=tl.fps,
                         audio=inputs.output_audio, crf=opts.crf, preset=opts.preset,
                         color_matrix=vis.color_matrix, yuv=True) as writer:
            prev = -1
            for i in range(n):
                s = int(src[i])
                frame = frames.get(s)
                job = None
                if weights[i] <= 0.0:
                    reasons[i] = "outside_segments"
                elif picks is not None and picks[i] < 0:
                    reasons[i] = str(track.reason[s]) or "no_mouth_match"
                elif not track.valid[s]:
                    reasons[i] = str(track.reason[s])
                else:
                    with clock("blend"):
                        view, lm, box = face_view(frame, track.landmarks[s], vis.color_matrix, margin,
                                                   lower_face=lower_face)
                    job = _Edit(i, s, view, lm, prev, float(weights[i]))
                    edited[i] = True
                    if pool is not None:
                        pool.submit(job)
                prev = int(picks[i]) if picks is not None and job is not None else -1
                pending.append((i, frame, box if job else None, view if job else None, job))
                while pending and (pool is None or pending[0][4] is None or pool.pending >= window):
                    write_oldest(writer)
            while pending:
                write_oldest(writer)
        if pool is not None:
            for counters in pool.close():
                editor.add(counters)  # type: ignore[arg-type]
    except WorkerError as exc:
        raise EngineError(f"rendering failed: {exc}") from exc
    finally:
        if pool is not None:
            pool.terminate()
        frames.close()
    return edited, reasons, rendered


def _mix(original: np.ndarray, edited: np.ndarray, weight: float) -> np.ndarray:
    """Partial edit at segment edges; unchanged pixels stay byte-identical."""
    diff = np.any(original != edited, axis=2)
    out = original.copy()
    out[diff] = np.clip(original[diff] * (1 - weight) + edited[diff] * weight + 0.5, 0, 255).astype(np.uint8)
    return out
