"""The naive reference every engine must beat: open the mouth with the loudness of the new audio.

Per frame, the target opening is the speaker's closed level plus the driving audio's loudness (0..1)
times their open range; the difference to the frame's current opening is applied with the simple warp
of ``mouth_warp``. No phonetics, no anticipation, no texture: it is what "mouth flaps with the volume"
looks like, so the harness can show how much better the engine is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openlipsync.evaluation.metrics import inter_ocular, mouth_opening
from openlipsync.evaluation.mouth_warp import warp_mouth
from openlipsync.evaluation.signals import loudness01
from openlipsync.media import FrameWriter, iter_frames, probe
from openlipsync.options import LipSyncOptions


def loudness_targets(audio: np.ndarray, fps: float, n: int, closed: float, open_: float) -> np.ndarray:
    """(n,) target mouth opening (inter-ocular units) from loudness: closed in silence, open_ when loudest."""
    return closed + loudness01(audio, fps, n) * (open_ - closed)


def render_loudness_baseline(video: Path, marks: np.ndarray, driving: np.ndarray, driving_wav: Path,
                             output: Path, *, closed: float, open_: float, crf: int = LipSyncOptions.crf,
                             preset: str = "veryfast") -> Path:
    """Write the baseline output for ``video`` (its landmarks ``marks``) driven by ``driving`` (16 kHz).

    The output has the input's frame count (like sync_mode cut_off with equal lengths) and the driving
    audio, encoded with the engine's default encoder settings.
    """
    info = probe(video)
    n = len(marks)
    target = loudness_targets(driving, info.fps, n, closed, open_)
    current = mouth_opening(marks)
    iod = inter_ocular(marks)
    with FrameWriter(output, width=info.width, height=info.height, fps=info.fps, audio=driving_wav,
                     crf=crf, preset=preset, color_matrix=info.color_matrix) as writer:
        for i, frame in enumerate(iter_frames(info)):
            if i >= n:
                break
            delta = (target[i] - current[i]) * iod[i]
            writer.write(warp_mouth(frame, marks[i], float(delta)) if np.isfinite(delta) else frame)
    return output
