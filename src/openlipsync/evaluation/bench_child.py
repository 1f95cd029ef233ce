"""One measured run in its own process, so peak memory is per run: ``python -m openlipsync.evaluation.bench_child``.

Prints one JSON line: wall seconds of the work (imports excluded), frames, stage seconds, and peak RSS
of this process (``VmHWM``) and of its largest ffmpeg child (``ru_maxrss`` of waited children).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_kib() -> int:
    """Peak resident set size of this process in KiB (Linux ``/proc/self/status`` VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def transcode_floor(video: Path, audio: Path, output: Path, frames: int) -> dict[str, object]:
    """The floor: decode → numpy → encode with the engine's FrameWriter defaults, muxing the same audio."""
    from openlipsync.media import FrameWriter, iter_frames, probe
    from openlipsync.options import LipSyncOptions

    opts = LipSyncOptions()
    info = probe(video)
    started = time.perf_counter()
    written = 0
    with FrameWriter(output, width=info.width, height=info.height, fps=info.fps, audio=audio,
                     crf=opts.crf, preset=opts.preset, color_matrix=info.color_matrix) as writer:
        for frame in iter_frames(info):
            if written >= frames:
                break
            writer.write(frame)
            written += 1
    return {"wall": time.perf_counter() - started, "frames": written, "stage_seconds": {}}


def engine(video: Path, audio: Path, output: Path, model: str) -> dict[str, object]:
    """The engine through the public library call, sync_mode cut_off (no looping, no padding)."""
    from openlipsync.engine.preload import preload
    from openlipsync.lipsync import lipsync
    from openlipsync.options import LipSyncOptions, Model, SyncMode

    imports = preload()  # measured as a warm worker runs a job (its fork server imported these once)
    started = time.perf_counter()
    result = lipsync(video, audio, output, LipSyncOptions(model=Model.parse(model), sync_mode=SyncMode.CUT_OFF))
    return {"wall": time.perf_counter() - started, "frames": result.frame_count, "imports": imports,
            "stage_seconds": result.stage_seconds, "frames_edited": result.report.frames_edited}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["floor", "engine"])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--audio", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--model", default="lipsync-2")
    parser.add_argument("--frames", type=int, default=1 << 31)
    args = parser.parse_args(argv)
    try:
        if args.kind == "floor":
            record = transcode_floor(args.video, args.audio, args.output, args.frames)
        else:
            record = engine(args.video, args.audio, args.output, args.model)
    except Exception as exc:  # reported to the parent as data, not as a traceback
        record = {"error": f"{type(exc).__name__}: {exc}"}
    record["peak_rss_kib"] = peak_rss_kib()
    record["ffmpeg_peak_rss_kib"] = int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    sys.stdout.write(json.dumps(record) + "\n")
    return 0 if "error" not in record else 1


if __name__ == "__main__":
    sys.exit(main())
