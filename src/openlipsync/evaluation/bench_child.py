"""One measured run in its own process, so peak memory is per run: ``python -m openlipsync.evaluation.bench_child``.

Prints one JSON line: wall seconds of the work (imports excluded), frames, stage seconds, peak RSS
of this process (``VmHWM``), of its largest child (``ru_maxrss`` of waited children: ffmpeg or a render
worker), and the sampled peak PSS of the whole process tree.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

RSS_STEP = 1.05  # a PSS sample when the tree's RSS exceeds its previous high by this factor (the peak is
# then known to within about 5 %)
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def peak_rss_kib() -> int:
    """Peak resident set size of this process in KiB (Linux ``/proc/self/status`` VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class TreeMemory:
    """Samples the proportional set size (PSS) of this process and all its descendants (render workers,
    the audio child, ffmpeg); ``peak_kib`` is the largest total seen. PSS splits pages shared after a
    fork between the processes, so the sum is the real memory in use.

    Reading PSS walks every mapping of every process (≈ 15 ms of CPU per sample of an engine run, which
    would slow the run being measured), so the tree's RSS (cheap) is read every ``interval`` seconds and
    PSS only when that RSS reaches a new high or ``pss_every`` seconds have passed."""

    def __init__(self, interval: float = 0.1, pss_every: float = 1.0) -> None:
        self.peak_kib = 0
        self.samples = 0
        self._pss_every = pss_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, interval: float) -> None:
        rss_high, last = 0, -float("inf")
        while not self._stop.is_set():
            pids = _tree(os.getpid())
            rss = sum(_rss_kib(p) for p in pids)
            now = time.monotonic()
            if rss > rss_high * RSS_STEP or now - last >= self._pss_every:
                self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in pids))
                self.samples += 1
                last = now
            rss_high = max(rss_high, rss)
            self._stop.wait(interval)


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def transcode_floor(video: Path, audio: Path, output: Path, frames: int) -> dict[str, object]:
    """The floor: decode → numpy → encode through the engine's own yuv420p pipes and FrameWriter defaults
    (no colour conversion, as the engine), muxing the same audio."""
    from openlipsync.media import FrameWriter, probe
    from openlipsync.media.decode import iter_yuv_frames
    from openlipsync.options import LipSyncOptions

    opts = LipSyncOptions()
    info = probe(video)
    started = time.perf_counter()
    written = 0
    with FrameWriter(output, width=info.width, height=info.height, fps=info.fps, audio=audio,
                     crf=opts.crf, preset=opts.preset, color_matrix=info.color_matrix, yuv=True) as writer:
        for frame in iter_yuv_frames(info):
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
    parser.add_argument("--analysis-cache", type=Path, default=None,
                        help="Analysis cache directory (default: none, every run analyses its video).")
    args = parser.parse_args(argv)
    os.environ["OPENLIPSYNC_ANALYSIS_CACHE"] = str(args.analysis_cache) if args.analysis_cache else "off"
    memory = TreeMemory()
    try:
        with memory:
            if args.kind == "floor":
                record = transcode_floor(args.video, args.audio, args.output, args.frames)
            else:
                record = engine(args.video, args.audio, args.output, args.model)
    except Exception as exc:  # reported to the parent as data, not as a traceback
        record = {"error": f"{type(exc).__name__}: {exc}"}
    record["peak_rss_kib"] = peak_rss_kib()
    record["tree_peak_pss_kib"] = memory.peak_kib
    record["ffmpeg_peak_rss_kib"] = int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    sys.stdout.write(json.dumps(record) + "\n")
    return 0 if "error" not in record else 1


if __name__ == "__main__":
    sys.exit(main())
