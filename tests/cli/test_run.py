"""`openlipsync run`: output streams and duration per sync_mode (checked with ffprobe), errors and exit codes."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from openlipsync.cli.main import cli
from openlipsync.media import probe
from tests.factories import ffprobe_streams


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", "-q", *map(str, args)])
    return result.exit_code, result.output


@pytest.mark.parametrize("mode", ["loop", "bounce", "cut_off", "silence", "remap"])
def test_every_sync_mode_gives_the_documented_length(mode: str, face_video: Path, speech_wav: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / f"{mode}.mp4"
    code, output = _run(face_video, speech_wav, "-o", out, "--sync-mode", mode)
    assert code == 0, output
    facts = ffprobe_streams(out)
    video_s, audio_s = probe(face_video).video_duration, probe(speech_wav).duration or 0.0
    expected = {"loop": audio_s, "bounce": audio_s, "remap": audio_s, "cut_off": min(video_s, audio_s),
                "silence": max(video_s, audio_s)}[mode]
    assert facts["audio"] == 1
    assert (facts["width"], facts["height"]) == (320, 320)
    assert facts["fps"] == "25/1"
    # every output frame is present: ceil(duration × fps), and the container is that long
    assert facts["frames"] == pytest.approx(expected * 25, abs=1.0)
    assert facts["duration"] == pytest.approx(expected, abs=0.1)


def test_silence_mode_pads_short_audio_to_the_video(face_video: Path, tmp_path: Path) -> None:
    from tests.factories import make_tone

    short = make_tone(tmp_path / "short.wav", seconds=1.0)
    out = tmp_path / "pad.mp4"
    code, output = _run(face_video, short, "-o", out, "--sync-mode", "silence")
    assert code == 0, output
    facts = ffprobe_streams(out)
    assert facts["frames"] == 50
    assert facts["duration"] == pytest.approx(2.0, abs=0.1)


def test_photo_input_makes_a_video_as_long_as_the_audio(face_image: Path, speech_wav: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "photo.mp4"
    code, output = _run(face_image, speech_wav, "-o", out)
    assert code == 0, output
    facts = ffprobe_streams(out)
    assert facts["duration"] == pytest.approx(probe(speech_wav).duration or 0, abs=0.1)
    assert "sync report" in output


def test_missing_file_exits_2_with_a_clear_message(speech_wav: Path, tmp_path: Path) -> None:
    code, output = _run(tmp_path / "missing.mp4", speech_wav, "-o", tmp_path / "o.mp4")
    assert code == 2
    assert "no such file" in output


def test_unreadable_file_exits_2(corrupt_video: Path, speech_wav: Path, tmp_path: Path) -> None:
    code, output = _run(corrupt_video, speech_wav, "-o", tmp_path / "o.mp4")
    assert code == 2
    assert "generation_media_unreadable" in output


def test_audio_without_audio_stream_exits_2(face_video: Path, tmp_path: Path) -> None:
    code, output = _run(face_video, face_video, "-o", tmp_path / "o.mp4")
    assert code == 2
    assert "generation_audio_missing" in output


def test_audio_file_as_visual_input_exits_2(speech_wav: Path, tmp_path: Path) -> None:
    code, output = _run(speech_wav, speech_wav, "-o", tmp_path / "o.mp4")
    assert code == 2
    assert "generation_video_missing" in output


def test_a_video_with_speech_can_drive_another_video(face_video: Path, face_video_with_speech: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "from_video.mp4"
    code, output = _run(face_video, face_video_with_speech, "-o", out, "--sync-mode", "cut_off")
    assert code == 0, output
    assert ffprobe_streams(out)["audio"] == 1


def test_help_describes_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "run" in result.output and "demo" in result.output


def test_text_input_is_spoken_offline_and_lip_synced(face_image: Path, tmp_path: Path) -> None:
    out = tmp_path / "text.mp4"
    code, output = _run(face_image, "-o", out, "--text", "Hola, ¿cómo estás?", "--voice", "es")
    assert code == 0, output
    facts = ffprobe_streams(out)
    assert facts["audio"] == 1 and float(facts["duration"]) > 0.5


def test_audio_and_text_together_is_a_usage_error(face_image: Path, speech_wav: Path, tmp_path: Path) -> None:
    code, output = _run(face_image, speech_wav, "-o", tmp_path / "o.mp4", "--text", "hi")
    assert code == 2
    assert "either AUDIO or --text" in output


def test_segments_keep_original_audio_outside_and_place_clips_inside(face_video_with_speech: Path,
                                                                     tmp_path: Path) -> None:
    import numpy as np

    from openlipsync import LipSyncOptions, Segment, lipsync
    from openlipsync.media import load_audio
    from tests.factories import make_tone

    tone = make_tone(tmp_path / "tone.wav", seconds=2.0, freq=1000.0)
    out = tmp_path / "seg.mp4"
    options = LipSyncOptions(segments=(Segment(start=1.0, end=2.0, audio=tone, audio_start=0.5),))
    result = lipsync(face_video_with_speech, None, out, options)
    assert result.frame_count == 75  # the video is the timeline
    got = load_audio(out)
    orig = load_audio(face_video_with_speech)
    sr = 16000
    # outside the segment: the original speech (AAC re-encode → compare loosely)
    outside = slice(int(2.2 * sr), int(2.9 * sr))
    assert np.corrcoef(got[outside], orig[outside])[0, 1] > 0.9
    # inside: a 1 kHz tone dominates
    inside = got[int(1.1 * sr): int(1.9 * sr)]
    spectrum = np.abs(np.fft.rfft(inside))
    assert abs(np.argmax(spectrum) * sr / len(inside) - 1000.0) < 10
