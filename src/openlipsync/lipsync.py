"""The library entry point: ``openlipsync.lipsync(video, audio, output, options)``.

The CLI, the workers and the eval harness all call this one function.
"""

from __future__ import annotations

import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from openlipsync import pipeline
from openlipsync.errors import MissingInputError, NoAudioStreamError, NoVideoStreamError
from openlipsync.media import load_audio, load_video_audio, probe
from openlipsync.media import segments as seg
from openlipsync.media.audio import fit_length, write_wav
from openlipsync.media.probe import MediaInfo
from openlipsync.media.timeline import Timeline, plan_timeline
from openlipsync.options import LipSyncOptions, LipSyncResult, ProgressCallback, SyncMode

log = logging.getLogger("openlipsync.lipsync")


def _no_progress(stage: str, fraction: float) -> None:
    return None


def probe_inputs(video: str | Path, audio: str | Path) -> tuple[MediaInfo, MediaInfo]:
    """Probe and check both inputs; raise a clear ``InputError`` for anything unusable (the video's
    first). The two probes run at the same time."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        audio_probe = pool.submit(probe, audio)
        visual = probe(video)
        if not visual.has_video:
            raise NoVideoStreamError(f"{Path(video).name}: has no video stream or image")
        sound = audio_probe.result()
    if not sound.has_audio:
        raise NoAudioStreamError(f"{Path(audio).name}: has no audio stream")
    return visual, sound


SEGMENT_SR = 48_000


def prepare_segment_audio(visual: MediaInfo, options: LipSyncOptions, timeline: Timeline,
                          out_path: Path) -> tuple[Path, np.ndarray]:
    """Compose the video's own audio with every segment's clip; return the track and per-frame edit weights."""
    spans = [(s.start, min(s.end, timeline.duration)) for s in options.segments]
    seg.check_segments([(s.start, s.end) for s in options.segments], timeline.duration)
    n = int(round(timeline.duration * SEGMENT_SR))
    base = (fit_length(load_video_audio(visual, SEGMENT_SR, channels=2), n) if visual.has_audio
            else np.zeros((n, 2), np.float32))
    clips = []
    for s, (start, end) in zip(options.segments, spans, strict=True):
        samples = load_audio(s.audio, SEGMENT_SR, start=s.audio_start, end=s.audio_end)
        clips.append(seg.PlacedClip(start, end, samples))
    write_wav(out_path, seg.compose_audio(base, clips, SEGMENT_SR), SEGMENT_SR)
    return out_path, seg.edit_weights(spans, timeline.frame_count, timeline.fps)


def lipsync(video: str | Path, audio: str | Path | None, output: str | Path,
            options: LipSyncOptions | None = None, *, progress: ProgressCallback | None = None,
            workdir: str | Path | None = None) -> LipSyncResult:
    """Re-animate the mouth in ``video`` (a video or a photo) to speak ``audio``; write ``output`` (mp4).

    ``audio`` may be any audio file or a video whose audio track is used; it may be None when
    ``options.segments`` place their own clips on the video. Raises a subclass of
    ``LipSyncError`` with a machine ``code`` for unusable input.
    """
    options = options or LipSyncOptions()
    progress = progress or _no_progress
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    progress("probe", 0.0)
    if audio is None and not options.segments:
        raise MissingInputError("no audio given (an audio file, a video with audio, or segments)")
    visual, sound = probe_inputs(video, audio if audio is not None else options.segments[0].audio)
    weights = None
    if options.segments:
        # The video is the timeline: output as long as the video, audio composed segment by segment.
        timeline = plan_timeline(visual.frame_count, visual.fps, visual.video_duration, SyncMode.CUT_OFF,
                                 is_image=visual.is_image)
    else:
        timeline = plan_timeline(visual.frame_count, visual.fps, sound.duration or 0.0, options.sync_mode,
                                 is_image=visual.is_image)
    with tempfile.TemporaryDirectory(prefix="openlipsync-", dir=workdir) as tmp:
        track = Path(tmp) / "audio.wav"
        if options.segments:
            track, weights = prepare_segment_audio(visual, options, timeline, track)
            inputs = pipeline.RunInputs(visual=visual, driving_audio=load_audio(track), output_audio=track,
                                        timeline=timeline, output=output, options=options, edit_weight=weights)
        else:  # the run's audio stage cuts the track from ``sound`` while the video is analysed
            inputs = pipeline.RunInputs(visual=visual, driving_audio=None, output_audio=track,
                                        timeline=timeline, output=output, options=options, sound=sound)
        result = pipeline.run(inputs, progress)
    progress("done", 1.0)
    log.info("wrote %s (%d frames, %.2fs)", output, result.frame_count, result.duration_seconds)
    return result
