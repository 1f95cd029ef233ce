"""Cross-segment reconstruction (SPEC §4 "Measuring quality").

A real talking clip is split into halves A and B. The engine lip-syncs the visuals of A (with A's own
audio, as in dubbing) to the audio of B; the evaluator's own landmark detector (dlib, not the engine's
MediaPipe) measures the output mouth, which is compared with the real mouth of B at the same time.
Both directions are run (A←B audio and B←A audio). References on the same run: the real B mouth
(upper bound), the untouched A video (no-sync floor) and a naive loudness-driven warp (baseline).

With ``photos`` each model also lip-syncs a still (the first frame of A, as a PNG) to B's audio: the
photo path, which has no library of the speaker's mouths and no calibration from their own speech. A
photo's output runs at the engine's image frame rate; each real frame of B is compared with the output
frame nearest in time.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from openlipsync.evaluation.baseline import render_loudness_baseline
from openlipsync.evaluation.contact_sheet import write_contact_sheet
from openlipsync.evaluation.fidelity import FidelityAccumulator
from openlipsync.evaluation.landmarks import DlibLandmarker, measure_video
from openlipsync.evaluation.metrics import (
    PSNR_CAP,
    av_offset,
    mouth_lmd,
    mouth_opening,
    pearson,
    silence_opening,
    valid_mask,
)
from openlipsync.evaluation.signals import silent_frames, speech_envelope
from openlipsync.media import FrameWriter, iter_frames, load_video_audio, probe, write_wav

log = logging.getLogger("openlipsync.evaluation")

REAL, UNTOUCHED, LOUDNESS = "real (upper bound)", "untouched (floor)", "loudness baseline"
PHOTO = "photo"  # suffix of the systems that lip-sync a still of the source half


@dataclass(frozen=True)
class EvalConfig:
    """What to run and where to write it."""

    out_dir: Path
    models: tuple[str, ...] = ("lipsync-2",)
    cache_dir: Path | None = None
    max_seconds: float | None = None  # use at most this much of each clip (both halves together)
    max_lag_seconds: float = 0.3  # AV offset search range (±)
    contact_sheet: bool = True
    sheet_rows: int = 8
    photos: bool = False  # also run each model on a still of the source half (the photo path)


@dataclass
class RunRow:
    """The metrics of one system on one clip and direction."""

    clip: str
    direction: str
    system: str
    correlation: float = math.nan
    lmd: float = math.nan
    av_offset: float | None = None  # frames; a median row holds the median of |offset|
    av_offset_real: float | None = None
    # the output's lag minus the real video's (SPEC: the lag "compared with the same on the real video"): the
    # sync error left once the speaker's own audio-to-mouth lag is taken out; a median row: median of |error|
    av_error: float | None = None
    loudness_corr: float = math.nan  # how closely this mouth follows the speech loudness (at the best lag)
    silence_pct: float = math.nan
    psnr_outside: float | None = None
    psnr_worst_frame: float | None = None
    seam: float | None = None
    frames: int = 0
    frames_expected: int = 0
    frames_edited: int | None = None
    frames_changed: int | None = None
    face_fraction: float = math.nan
    wall_seconds: float | None = None
    output: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Half:
    """One half of a clip: its own video file (with its audio), its audio and its real landmarks."""

    name: str
    video: Path
    wav: Path
    audio: np.ndarray  # (m,) float32 16 kHz
    marks: np.ndarray  # (n, 68, 2) dlib landmarks of the real frames


@dataclass(frozen=True)
class PreparedClip:
    name: str
    fps: float
    halves: tuple[Half, Half]
    closed: float  # the real speaker's closed / open mouth (5th / 95th percentile of opening, whole clip)
    open_: float


@dataclass
class _Measured:
    marks: np.ndarray
    fidelity: FidelityAccumulator
    frames: int
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # idx -> (src, out)


def prepare_clip(path: Path, work: Path, landmarker: DlibLandmarker, config: EvalConfig) -> PreparedClip:
    """Measure the real clip (cached by file hash) and write its halves A and B into ``work``."""
    info = probe(path)
    marks = measure_video(path, landmarker, config.cache_dir)
    audio = load_video_audio(info)  # frame i pairs with the sound heard with it
    n = len(marks)
    if config.max_seconds:
        n = min(n, int(config.max_seconds * info.fps))
    half = n // 2
    if half < 10:
        raise ValueError(f"{path.name}: too short to split ({n} frames)")
    work.mkdir(parents=True, exist_ok=True)
    sr, halves = 16_000, []
    spans = (("A", 0), ("B", half))
    for name, start in spans:
        seg = audio[int(round(start / info.fps * sr)): int(round((start + half) / info.fps * sr))]
        seg = np.concatenate([seg, np.zeros(max(0, int(round(half / info.fps * sr)) - len(seg)), np.float32)])
        wav = write_wav(work / f"{name}.wav", seg)
        halves.append(Half(name, work / f"{name}.mp4", wav, seg, marks[start:start + half]))
    _write_halves(info, half, halves, work)
    opening = mouth_opening(marks[:n])
    finite = opening[np.isfinite(opening)]
    closed, open_ = (float(np.percentile(finite, 5)), float(np.percentile(finite, 95))) if len(finite) \
        else (math.nan, math.nan)
    return PreparedClip(path.stem, info.fps, (halves[0], halves[1]), closed, open_)


def _write_halves(info, half: int, halves: list[Half], work: Path) -> None:  # type: ignore[no-untyped-def]
    """Re-encode frames [0, half) and [half, 2·half) at high quality, each with its own audio."""
    writers = [FrameWriter(h.video, width=info.width, height=info.height, fps=info.fps, audio=h.wav, crf=12,
                           color_matrix=info.color_matrix) for h in halves]
    try:
        for i, frame in enumerate(iter_frames(info)):
            if i >= 2 * half:
                break
            writers[i // half].write(frame)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()


def _measure_output(output: Path, src: Half, landmarker: DlibLandmarker, keep: set[int],
                    still: np.ndarray | None = None, fps: float = 0.0, frames: int = 0) -> _Measured:
    """dlib landmarks of every output frame, plus fidelity against the source frame it maps to (identity).

    ``still``: the output was made from this one image (fidelity is measured against it) at its own frame
    rate; its landmarks are then resampled onto at most ``frames`` frames at ``fps`` (the source's), each
    from the output frame nearest in time."""
    landmarker.reset()
    fid = FidelityAccumulator()
    rows: list[np.ndarray] = []
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    step = fps / probe(output).fps if still is not None else 1.0  # source frames per output frame
    refs = iter_frames(src.video) if still is None else itertools.repeat(still)
    for i, out in enumerate(iter_frames(output)):
        rows.append(landmarker(out))
        ref = next(refs, None)
        j = 0 if still is not None else i
        if ref is not None and j < len(src.marks):
            fid.add(ref, out, src.marks[j])
            if round(i * step) in keep:
                kept.setdefault(round(i * step), (ref, out))
    marks = np.stack(rows) if rows else np.zeros((0, 68, 2), np.float32)
    if still is not None and len(marks):
        count = min(frames, int(np.ceil(len(marks) * step - 1e-6)))
        marks = marks[np.minimum(np.round(np.arange(count) / step).astype(int), len(marks) - 1)]
    return _Measured(marks, fid, len(marks), kept)


def score(row: RunRow, pred: np.ndarray, truth: Half, clip: PreparedClip, max_lag: int) -> RunRow:
    """Fill the shape/sync metrics of ``row``: ``pred`` landmarks against the real ``truth`` half."""
    n = min(len(pred), len(truth.marks))
    if n < 3:
        row.error = row.error or "output too short to measure"
        return row
    pred, real = pred[:n], truth.marks[:n]
    op_pred, op_real = mouth_opening(pred), mouth_opening(real)
    row.correlation = pearson(op_pred, op_real)
    lmd = mouth_lmd(pred, real)
    row.lmd = float(np.nanmean(lmd)) if np.isfinite(lmd).any() else math.nan
    env = speech_envelope(truth.audio, clip.fps, n)
    row.av_offset, row.loudness_corr = av_offset(env, op_pred, clip.fps, max_lag)
    row.av_offset_real = av_offset(env, op_real, clip.fps, max_lag)[0]
    if row.av_offset is not None and row.av_offset_real is not None:
        row.av_error = float(row.av_offset - row.av_offset_real)
    silent = silent_frames(truth.audio, clip.fps, n)
    row.silence_pct = silence_opening(op_pred, silent, clip.closed, clip.open_)
    row.face_fraction = float(valid_mask(pred).mean())
    return row


def _run_engine(model: str, visual: Path, truth: Half, output: Path) -> tuple[int | None, float]:
    """Run the public library call in cut_off mode (output frame i shows source frame i)."""
    from openlipsync.lipsync import lipsync
    from openlipsync.options import LipSyncOptions, Model, SyncMode

    started = time.perf_counter()
    result = lipsync(visual, truth.wav, output, LipSyncOptions(model=Model.parse(model),
                                                               sync_mode=SyncMode.CUT_OFF))
    return result.report.frames_edited, time.perf_counter() - started


def evaluate_direction(clip: PreparedClip, src: Half, truth: Half, landmarker: DlibLandmarker,
                       config: EvalConfig, work: Path) -> tuple[list[RunRow], dict[str, _Measured]]:
    """All systems for one direction (visuals of ``src`` driven by the audio of ``truth``)."""
    direction = f"{src.name}<-{truth.name}"
    max_lag = max(1, int(round(config.max_lag_seconds * clip.fps)))
    n = len(truth.marks)
    keep = set(np.linspace(0, n - 1, config.sheet_rows).round().astype(int).tolist())
    rows = [score(RunRow(clip.name, direction, REAL, psnr_outside=None, frames=n, frames_expected=n),
                  truth.marks, truth, clip, max_lag),
            score(RunRow(clip.name, direction, UNTOUCHED, psnr_outside=PSNR_CAP, seam=0.0, frames=len(src.marks),
                         frames_expected=n, frames_edited=0, frames_changed=0), src.marks, truth, clip, max_lag)]
    measured: dict[str, _Measured] = {}
    systems: list[tuple[str, Callable[[Path], tuple[int | None, float]]]] = [
        (LOUDNESS, partial(_loudness, src, truth, clip))]
    systems += [(m, partial(_run_engine, m, src.video, truth)) for m in config.models]
    still = still_path = None
    if config.photos:
        still, still_path = _write_still(src, work)
        systems += [(f"{m} {PHOTO}", partial(_run_engine, m, still_path, truth)) for m in config.models]
    for name, make in systems:
        photo = name.endswith(f" {PHOTO}")
        slug = name.replace(" ", "-") if photo else name.split()[0]
        output = work / f"{direction.replace('<-', '_from_')}.{slug}.mp4"
        row = RunRow(clip.name, direction, name, frames_expected=n, output=str(output))
        try:
            row.frames_edited, row.wall_seconds = make(output)
            got = _measure_output(output, src, landmarker, keep, still if photo else None, clip.fps, n)
        except Exception as exc:  # one failing system must not hide the others' numbers
            log.exception("%s %s %s failed", clip.name, direction, name)
            row.error = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        measured[name] = got
        row.frames, row.frames_changed = got.frames, got.fidelity.frames_changed
        row.psnr_outside, row.psnr_worst_frame = got.fidelity.psnr_outside, got.fidelity.worst_frame_psnr
        row.seam = got.fidelity.seam
        rows.append(score(row, got.marks, truth, clip, max_lag))
    return rows, measured


def _write_still(src: Half, work: Path) -> tuple[np.ndarray, Path]:
    """The first frame of ``src`` (RGB) and the PNG it was written to."""
    import cv2

    first = next(iter_frames(src.video))
    path = work / f"{src.name}_still.png"
    cv2.imwrite(str(path), cv2.cvtColor(first, cv2.COLOR_RGB2BGR))
    return first, path


def _loudness(src: Half, truth: Half, clip: PreparedClip, output: Path) -> tuple[int | None, float]:
    started = time.perf_counter()
    render_loudness_baseline(src.video, src.marks, truth.audio, truth.wav, output,
                             closed=clip.closed, open_=clip.open_)
    return len(src.marks), time.perf_counter() - started


def _sheet(path: Path, clip: PreparedClip, src: Half, truth: Half, measured: dict[str, _Measured],
           models: tuple[str, ...]) -> Path | None:
    """Contact sheet of the first engine model (falls back to the baseline) for one direction."""
    primary = next((m for m in models if m in measured), LOUDNESS if LOUDNESS in measured else None)
    if primary is None:
        return None
    got = measured[primary]
    truth_frames = {i: f for i, f in enumerate(iter_frames(truth.video)) if i in got.kept}
    base = measured.get(LOUDNESS)
    rows, times = [], []
    for i in sorted(got.kept):
        src_frame, out = got.kept[i]
        row: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
            f"input {src.name}": (src_frame, None), f"output {primary}": (out, None),
            "output mouth": (out, got.marks[i] if valid_mask(got.marks[i:i + 1])[0] else src.marks[i])}
        if base is not None and primary != LOUDNESS and i in base.kept:
            row["loudness mouth"] = (base.kept[i][1], base.marks[i])
        if i in truth_frames:
            row[f"real {truth.name} mouth"] = (truth_frames[i], truth.marks[i])
        rows.append(row)
        times.append(i / clip.fps)
    return write_contact_sheet(path, rows, times)


def evaluate_clip(path: Path, landmarker: DlibLandmarker, config: EvalConfig) -> tuple[list[RunRow], list[Path]]:
    """Both directions of one clip; returns the rows and the contact sheets written."""
    work = config.out_dir / path.stem
    clip = prepare_clip(path, work, landmarker, config)
    a, b = clip.halves
    rows: list[RunRow] = []
    sheets: list[Path] = []
    for src, truth in ((a, b), (b, a)):
        got_rows, measured = evaluate_direction(clip, src, truth, landmarker, config, work)
        rows += got_rows
        if config.contact_sheet:
            kinds = [("", config.models)]
            if config.photos:  # the photo path gets its own sheet: the still, its output, the real mouth
                kinds.append((f"_{PHOTO}", tuple(f"{m} {PHOTO}" for m in config.models)))
            for suffix, systems in kinds:
                if suffix and not any(m in measured for m in systems):
                    continue  # no photo output to show (the video sheet already falls back to the baseline)
                sheet = _sheet(work / f"contact_sheet_{src.name}_from_{truth.name}{suffix}.png", clip, src, truth,
                               measured, systems)
                if sheet is not None:
                    sheets.append(sheet)
    return rows, sheets


SYNTHETIC_PREFIX = "synthetic_"


def is_synthetic(row: RunRow) -> bool:
    """Rows of the generated clip, whose "real" mouth is itself synthetic (see evaluation/synthetic.py)."""
    return row.clip.startswith(SYNTHETIC_PREFIX)


def summarize(rows: list[RunRow]) -> list[RunRow]:
    """One median row per system over all clips and directions (|AV offset| and |AV error| are medians of
    magnitudes)."""
    from openlipsync.evaluation.metrics import nanmedian

    out = []
    for system in dict.fromkeys(r.system for r in rows):
        mine = [r for r in rows if r.system == system and r.error is None]
        if not mine:
            continue

        def med(attr: str, rs: list[RunRow] = mine) -> float:
            return nanmedian([getattr(r, attr) for r in rs if getattr(r, attr) is not None])

        def med_abs(attr: str, rs: list[RunRow] = mine) -> float | None:
            values = [abs(getattr(r, attr)) for r in rs if getattr(r, attr) is not None]
            return float(np.median(values)) if values else None

        out.append(RunRow(
            "median", f"{len(mine)} runs", system, correlation=med("correlation"), lmd=med("lmd"),
            av_offset=med_abs("av_offset"), av_offset_real=med_abs("av_offset_real"), av_error=med_abs("av_error"),
            loudness_corr=med("loudness_corr"), silence_pct=med("silence_pct"), psnr_outside=_opt(med("psnr_outside")),
            psnr_worst_frame=_opt(med("psnr_worst_frame")), seam=_opt(med("seam")),
            frames=sum(r.frames for r in mine), frames_expected=sum(r.frames_expected for r in mine),
            frames_edited=_total([r.frames_edited for r in mine]),
            frames_changed=_total([r.frames_changed for r in mine]), face_fraction=med("face_fraction"),
            wall_seconds=_opt(med("wall_seconds"))))
    return out


def _total(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _opt(value: float) -> float | None:
    return value if math.isfinite(value) else None
