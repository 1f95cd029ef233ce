"""The library entry point: ``openlipsync.lipsync(video, audio, output, options)``.

The CLI, the workers and the eval harness all call this one function.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from openlipsync import pipeline
from openlipsync.errors import NoAudioStreamError, NoVideoStreamError
from openlipsync.media import _ffmpeg, load_audio, probe
from openlipsync.media.probe import MediaInfo
from openlipsync.media.timeline import plan_timeline
from openlipsync.options import LipSyncOptions, LipSyncResult, ProgressCallback

log = logging.getLogger("openlipsync.lipsync")


def _no_progress(stage: str, fraction: float) -> None:
    return None


def probe_inputs(video: str | Path, audio: str | Path) -> tuple[MediaInfo, MediaInfo]:
    """Probe and check both inputs; raise a clear ``InputError`` for anything unusable."""
    visual = probe(video)
    if not visual.has_video:
        raise NoVideoStreamError(f"{Path(video).name}: has no video stream or image")
    sound = probe(audio)
    if not sound.has_audio:
        raise NoAudioStreamError(f"{Path(audio).name}: has no audio stream")
    return visual, sound


def prepare_output_audio(sound: MediaInfo, duration: float, out_path: Path) -> Path:
    """The audio track of the output: the input's first audio stream, trimmed or padded to ``duration``."""
    _ffmpeg.run(["-i", str(sound.path), "-map", "0:a:0", "-vn", "-af", f"apad=whole_dur={duration:.6f}",
                 "-t", f"{duration:.6f}", "-c:a", "pcm_s16le", str(out_path)], what="preparing the audio track")
    return out_path


def lipsync(video: str | Path, audio: str | Path, output: str | Path,
            options: LipSyncOptions | None = None, *, progress: ProgressCallback | None = None,
            workdir: str | Path | None = None) -> LipSyncResult:
    """Re-animate the mouth in ``video`` (a video or a photo) to speak ``audio``; write ``output`` (mp4).

    ``audio`` may be any audio file or a video whose audio track is used. Raises a subclass of
    ``LipSyncError`` with a machine ``code`` for unusable input.
    """
    options = options or LipSyncOptions()
    progress = progress or _no_progress
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    progress("probe", 0.0)
    visual, sound = probe_inputs(video, audio)
    audio_seconds = sound.duration or 0.0
    timeline = plan_timeline(visual.frame_count, visual.fps, audio_seconds, options.sync_mode,
                             is_image=visual.is_image)
    with tempfile.TemporaryDirectory(prefix="openlipsync-", dir=workdir) as tmp:
        track = prepare_output_audio(sound, timeline.duration, Path(tmp) / "audio.wav")
        driving = load_audio(track)
        inputs = pipeline.RunInputs(visual=visual, driving_audio=driving, output_audio=track,
                                    timeline=timeline, output=output, options=options)
        result = pipeline.run(inputs, progress)
    progress("done", 1.0)
    log.info("wrote %s (%d frames, %.2fs)", output, result.frame_count, result.duration_seconds)
    return result
