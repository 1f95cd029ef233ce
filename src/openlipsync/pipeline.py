"""Orchestration of one run: stream source frames through the engine stages into the encoder.

Owns I/O ordering (decode → analyse → plan → render → blend → encode); the stages themselves live in
``openlipsync.engine`` and are pure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlipsync.media import FrameWriter, iter_frames
from openlipsync.media.probe import MediaInfo
from openlipsync.media.timeline import Timeline
from openlipsync.options import LipSyncOptions, LipSyncResult, ProgressCallback, SyncReport


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


def run(inputs: RunInputs, progress: ProgressCallback) -> LipSyncResult:
    """Produce the output video. (Placeholder pass-through until the engine lands.)"""
    t0 = time.perf_counter()
    tl, vis = inputs.timeline, inputs.visual
    frames = [f for f in iter_frames(vis)]
    with FrameWriter(inputs.output, width=vis.width, height=vis.height, fps=tl.fps,
                     audio=inputs.output_audio, crf=inputs.options.crf, preset=inputs.options.preset,
                     color_matrix=vis.color_matrix) as writer:
        for i, src in enumerate(tl.source_index):
            writer.write(frames[min(int(src), len(frames) - 1)])
            progress("render", (i + 1) / tl.frame_count)
    report = SyncReport(None, 0.0, tl.frame_count, 0, tl.frame_count, {"engine_not_implemented": tl.frame_count})
    return LipSyncResult(inputs.output, tl.duration, tl.frame_count, tl.fps, vis.width, vis.height, report,
                         {"total": time.perf_counter() - t0})
