"""Speed bench (SPEC §4 "Measuring speed"): every engine run next to the transcode floor of the same input.

The floor is ffmpeg decoding the input to numpy and re-encoding it with the engine's own encoder
settings (``FrameWriter``: libx264, same preset/CRF/pixel format, the same rawvideo pipe round trip),
measured in the same bench run. Each measurement runs in its own subprocess so peak RSS is per run.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openlipsync.media import probe

log = logging.getLogger("openlipsync.evaluation")

FLOOR = "floor (ffmpeg transcode)"


@dataclass(frozen=True)
class BenchInput:
    """A visual input and the audio driving it; ``frames`` is the output length (cut_off)."""

    name: str
    video: Path
    audio: Path
    width: int
    height: int
    fps: float
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


@dataclass
class BenchRow:
    input: str
    resolution: str
    system: str
    video_seconds: float
    wall: float | None = None
    realtime_factor: float | None = None  # video seconds per wall second
    floor_ratio: float | None = None  # wall / floor wall
    peak_rss_mib: float | None = None
    tree_pss_mib: float | None = None  # sampled peak PSS of the run's whole process tree
    ffmpeg_peak_rss_mib: float | None = None
    frames: int | None = None
    frames_edited: int | None = None
    imports_seconds: float | None = None  # one-time engine imports, done before the timed run (warm worker)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def bench_input(video: Path, audio: Path | None = None, name: str | None = None) -> BenchInput:
    """Describe ``video`` driven by ``audio`` (default: the video's own audio track)."""
    info = probe(video)
    audio = audio or video
    sound = probe(audio)
    if not sound.has_audio:
        raise ValueError(f"{audio.name}: no audio to drive the lip-sync")
    frames = min(info.frame_count, math.ceil((sound.duration or 0.0) * info.fps - 1e-6))
    return BenchInput(name or video.name, video, audio, info.width, info.height, info.fps, max(1, frames))


def synthetic_input(cache_dir: Path, height: int, seconds: float, fps: float = 25.0) -> BenchInput:
    """The generated astronaut input at ``height`` p (made once, then reused from ``cache_dir``)."""
    from openlipsync.evaluation.synthetic import make_bench_video, make_speech

    cache_dir.mkdir(parents=True, exist_ok=True)
    own = cache_dir / f"bench_own_speech_{seconds:g}s.wav"
    driving = cache_dir / f"bench_driving_speech_{seconds:g}s.wav"
    video = cache_dir / f"bench_talking_{height}p{fps:g}_{seconds:g}s.mp4"
    if not own.is_file():
        make_speech(own, seconds)
    if not driving.is_file():
        make_speech(driving, seconds, text="A different voice track now drives the same face, sentence by "
                                           "sentence, with short pauses between the phrases. ")
    if not video.is_file():
        log.info("generating %s", video.name)
        tmp = video.with_suffix(".part.mp4")
        make_bench_video(tmp, height=height, seconds=seconds, fps=fps, audio=own)
        tmp.replace(video)
    return bench_input(video, driving, name=f"synthetic {height}p{fps:g}")


REUSED = "reused"  # suffix of the rows timed with the video's analysis taken from the cache


def _child(args: list[str], timeout: float) -> dict[str, object]:
    cmd = [sys.executable, "-m", "openlipsync.evaluation.bench_child", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}


def _row(inp: BenchInput, system: str, record: dict[str, object], floor_wall: float | None) -> BenchRow:
    row = BenchRow(inp.name, f"{inp.width}x{inp.height}@{inp.fps:g}", system, round(inp.seconds, 3))
    rss, ff = record.get("peak_rss_kib"), record.get("ffmpeg_peak_rss_kib")
    row.peak_rss_mib = round(int(rss) / 1024, 1) if isinstance(rss, int) else None
    row.ffmpeg_peak_rss_mib = round(int(ff) / 1024, 1) if isinstance(ff, int) else None
    tree = record.get("tree_peak_pss_kib")
    row.tree_pss_mib = round(int(tree) / 1024, 1) if isinstance(tree, int) and tree > 0 else None
    if "error" in record:
        row.error = str(record["error"])
        return row
    wall = float(record["wall"])  # type: ignore[arg-type]
    row.wall, row.frames = wall, int(record.get("frames") or 0)  # type: ignore[call-overload]
    row.realtime_factor = inp.seconds / wall if wall > 0 else None
    row.floor_ratio = wall / floor_wall if floor_wall else None
    row.frames_edited = record.get("frames_edited")  # type: ignore[assignment]
    imports = record.get("imports")
    row.imports_seconds = round(float(imports), 2) if isinstance(imports, (int, float)) else None
    stages = record.get("stage_seconds")
    row.stage_seconds = {str(k): float(v) for k, v in stages.items()} if isinstance(stages, dict) else {}
    return row


def run_bench(inputs: list[BenchInput], models: list[str], *, timeout: float = 3600.0, reuse: bool = False,
              on_row: Callable[[BenchRow], None] | None = None) -> list[BenchRow]:
    """Floor then each model for every input; ``on_row(row)`` is called as each measurement finishes.

    Every engine run analyses its video afresh. With ``reuse``, each model is also timed on a second job
    with the same video (system "<model> reused"): a first, untimed job fills an analysis cache of its
    own, the timed one takes the video's analysis from it (``openlipsync.analysis_cache``)."""
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="openlipsync-bench-") as tmp:
        for k, inp in enumerate(inputs):
            common = ["--video", str(inp.video), "--audio", str(inp.audio)]
            floor = _child(["floor", *common, "--output", f"{tmp}/{k}-floor.mp4", "--frames", str(inp.frames)],
                           timeout)
            floor_row = _row(inp, FLOOR, floor, None)
            floor_row.floor_ratio = 1.0 if floor_row.error is None else None
            rows.append(floor_row)
            if on_row is not None:
                on_row(floor_row)
            for model in models:
                engine = ["engine", *common, "--output", f"{tmp}/{k}-{model}.mp4", "--model", model]
                measured = [(model, _child(engine, timeout))]
                if reuse:
                    cached = [*engine, "--analysis-cache", f"{tmp}/analysis-{k}-{model}"]
                    first = _child(cached, timeout)
                    measured.append((f"{model} {REUSED}", first if "error" in first else _child(cached, timeout)))
                for system, record in measured:
                    row = _row(inp, system, record, floor_row.wall)
                    rows.append(row)
                    if on_row is not None:
                        on_row(row)
    return rows
