from pathlib import Path

import numpy as np

from openlipsync.media import FrameWriter, iter_frames, load_audio, probe
from openlipsync.media.audio import SAMPLE_RATE


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_decode_then_encode_keeps_frames_size_rate_and_pixels(face_video: Path, tmp_path: Path) -> None:
    info = probe(face_video)
    out = tmp_path / "rt.mp4"
    with FrameWriter(out, width=info.width, height=info.height, fps=info.fps, crf=16,
                     color_matrix=info.color_matrix) as writer:
        for frame in iter_frames(info):
            writer.write(frame)
    again = probe(out)
    assert (again.width, again.height, again.frame_count) == (info.width, info.height, info.frame_count)
    psnrs = [_psnr(a, b) for a, b in zip(iter_frames(info), iter_frames(out), strict=True)]
    assert min(psnrs) > 40.0  # the re-encode loss stays small


def test_odd_dimensions_are_padded_not_rescaled(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with FrameWriter(out, width=33, height=21, fps=10) as writer:
        for _ in range(3):
            writer.write(np.full((21, 33, 3), 128, np.uint8))
    info = probe(out)
    assert (info.width, info.height) == (34, 22)


def test_audio_loads_as_mono_float_at_16k(speech_wav: Path) -> None:
    samples = load_audio(speech_wav)
    info = probe(speech_wav)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) / SAMPLE_RATE - (info.duration or 0)) < 0.05
    assert 0.01 < np.abs(samples).max() <= 1.0
