"""Segments in the engine (edit weight per frame) and the Sync v2 wire mapping of segments and text inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.engine.features import capture_frames, decoded, skip_calibration

from openlipsync.api.v2.schemas import parse_create, to_request
from openlipsync.jobs.requests import build_options
from openlipsync.lipsync import lipsync
from openlipsync.media.voices import detect_language, resolve_voice
from openlipsync.options import Emotion, LipSyncOptions, Model, ModelMode, Segment

SPANISH = "Hola, ¿cómo estás? Me llamo Ana y vivo en la ciudad."
FULL_BODY = {  # every field the official SDK can emit (reference §3), with a Spanish text clip
    "model": "react-1",
    "input": [{"type": "video", "url": "https://x.example/v.mp4"},
              {"type": "audio", "url": "https://x.example/a.wav", "refId": "a1"},
              {"type": "text", "refId": "t1", "provider": {"name": "elevenlabs", "voiceId": "21m00Tcm4TlvDq8ikWAM",
                                                           "script": SPANISH}}],
    "options": {"sync_mode": "loop", "model_mode": "head", "prompt": "happy", "temperature": 0.7,
                "active_speaker_detection": {"auto_detect": False, "frame_number": 10, "coordinates": [100, 200]},
                "occlusion_detection_enabled": True},
    "segments": [{"startTime": 0.0, "endTime": 2.5, "audioInput": {"refId": "a1", "startTime": 0.5, "endTime": 3.0}},
                 {"startTime": 3.0, "endTime": 5.0, "audioInput": {"refId": "t1"}}],
}


def test_v2_segments_and_options_reach_the_engine_options(tmp_path: Path) -> None:
    req = to_request(parse_create(FULL_BODY))
    assert [(s.start, s.end, s.audio_start, s.audio_end) for s in req.segments] == [(0.0, 2.5, 0.5, 3.0),
                                                                                    (3.0, 5.0, None, None)]
    first, second = req.segments
    assert (first.audio.kind, first.audio.url) == ("url", "https://x.example/a.wav")
    assert (second.audio.kind, second.audio.voice) == ("text", "es")  # the ElevenLabs voice maps to Spanish
    assert "elevenlabs" in (second.audio.tts_note or "") and "espeak-ng" in (second.audio.tts_note or "")
    segs = tuple(Segment(s.start, s.end, tmp_path / f"{k}.wav", s.audio_start, s.audio_end)
                 for k, s in enumerate(req.segments))
    opts = build_options(req.model, req.options, segs)
    assert (opts.model, opts.model_mode, opts.prompt) == (Model.REACT_1, ModelMode.HEAD, Emotion.HAPPY)
    assert opts.occlusion_detection and opts.temperature == pytest.approx(0.7)
    assert (opts.active_speaker.auto_detect, opts.active_speaker.frame_number,
            opts.active_speaker.coordinates) == (False, 10, (100.0, 200.0))
    assert [(s.start, s.end, s.audio_start, s.audio_end) for s in opts.segments] == [(0.0, 2.5, 0.5, 3.0),
                                                                                      (3.0, 5.0, None, None)]


@pytest.mark.parametrize(("provider", "script", "voice"), [
    ({"name": "elevenlabs", "voiceId": "v123"}, "Good morning, how are you today?", "en-us"),
    ({"name": "elevenlabs", "voiceId": "v123"}, "你好，今天天气很好。", "cmn"),
    ({"name": "elevenlabs", "voiceId": "v123", "language": "de-DE"}, "Hallo", "de"),
    ({"name": "elevenlabs", "voiceId": "v123", "languageCode": "zh-CN"}, "ni hao", "cmn"),
    ({"name": "espeak", "voiceId": "es"}, "anything", "es"),
    ({"name": "playht", "voiceId": "x"}, "Bonjour, je suis très content de vous voir avec les enfants.", "fr-fr"),
])
def test_hosted_voices_map_to_an_installed_espeak_voice(provider: dict, script: str, voice: str) -> None:
    got, note = resolve_voice(provider, script)
    assert got == voice and note


def test_language_detection_by_script() -> None:
    assert detect_language("Привет, как дела?") == "ru"
    assert detect_language("こんにちは") == "ja"
    assert detect_language("12345") == "en-us"


@pytest.mark.parametrize("model", [Model.LIPSYNC_1_9, Model.REACT_1])
def test_frames_outside_segments_pass_through_and_edges_ramp(model: Model, talking_video: Path, speech_wav: Path,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    skip_calibration(monkeypatch)
    seg = Segment(0.6, 1.6, speech_wav, 0.0, 1.0)  # frames 15..39: weight 0, 1/3, 2/3, 1 …, 2/3, 1/3, 0
    opts = LipSyncOptions(model=model, model_mode=ModelMode.HEAD, segments=(seg,))
    with capture_frames(monkeypatch) as frames:
        result = lipsync(talking_video, None, tmp_path / "o.mp4", opts)
    out, src = np.stack(frames), decoded(talking_video)
    assert len(out) == len(src) == 50
    diff = np.abs(out.astype(np.int16) - src.astype(np.int16)).mean(axis=(1, 2, 3))
    outside = [i for i in range(50) if i <= 15 or i >= 39]
    assert all(np.array_equal(out[i], src[i]) for i in outside)  # original mouth (and head) kept exactly
    assert result.report.pass_through_reasons.get("outside_segments") == len(outside)
    assert (diff[18:37] > 0).mean() > 0.8
    if model == Model.REACT_1:  # head motion changes every plateau frame; a 1/3-weight edge frame much less
        assert diff[16] < 0.7 * np.median(diff[18:37]) and diff[38] < 0.7 * np.median(diff[18:37])
