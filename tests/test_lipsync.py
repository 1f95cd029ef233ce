"""The library entry point's input preparation: probing both inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from openlipsync.errors import NoAudioStreamError, NoVideoStreamError

entry = sys.modules["openlipsync.lipsync"]  # the package re-exports the function under the module's name


def test_probing_reports_the_video_first_then_the_audio(stereo_tone: Path, tmp_path: Path):
    with pytest.raises(NoVideoStreamError):
        entry.probe_inputs(stereo_tone, stereo_tone)
    image = tmp_path / "face.png"
    import cv2

    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(NoAudioStreamError):
        entry.probe_inputs(image, image)
    visual, sound = entry.probe_inputs(image, stereo_tone)
    assert visual.is_image and sound.has_audio


def test_segments_keep_the_videos_own_sound_in_sync_with_its_picture(silence_wav: Path, tmp_path: Path):
    from openlipsync.lipsync import SEGMENT_SR, prepare_segment_audio
    from openlipsync.media import load_audio, probe
    from openlipsync.media.timeline import plan_timeline
    from openlipsync.options import LipSyncOptions, Segment, SyncMode
    from tests.factories import make_click_video

    video = probe(make_click_video(tmp_path / "late.mov", 0.2))  # the picture starts 0.2 s into the sound
    timeline = plan_timeline(video.frame_count, video.fps, video.video_duration, SyncMode.CUT_OFF)
    options = LipSyncOptions(segments=(Segment(1.2, 1.6, silence_wav),))
    track, weights = prepare_segment_audio(video, options, timeline, tmp_path / "track.wav")
    mono = load_audio(track, SEGMENT_SR)
    # outside the segment the original sound plays where it played with the picture: its click at 0.5 s
    # of the stored track is heard 0.3 s after the first frame
    assert np.argmax(np.abs(mono)) / SEGMENT_SR == pytest.approx(0.3, abs=0.005)
    assert weights[: int(1.2 * video.fps)].max() == 0
