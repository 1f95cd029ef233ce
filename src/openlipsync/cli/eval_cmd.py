"""``openlipsync eval``: the quality harness (cross-segment reconstruction, docs/EVAL.md)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import click

from openlipsync.options import Model


def _fmt(value: float | int | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def _table(title: str, rows: list) -> object:  # type: ignore[type-arg]
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("system")
    table.add_column("dir")
    for name in ("corr ↑", "LMD ↓", "AV off (real)", "AV err ↓", "~loud", "silence % ↓", "PSNR out dB ↑", "seam ↓",
                 "frames", "edited", "wall s"):
        table.add_column(name, justify="right")
    for r in rows:
        if r.error:
            table.add_row(r.system, r.direction, f"[red]error: {r.error[:70]}[/red]", *[""] * 10)
            continue
        offset = f"{_fmt(r.av_offset, '+g')} ({_fmt(r.av_offset_real, '+g')})"
        error = _fmt(r.av_error, "+g")
        if r.clip == "median":
            offset = f"|{_fmt(r.av_offset, 'g')}| (|{_fmt(r.av_offset_real, 'g')}|)"
            error = f"|{_fmt(r.av_error, 'g')}|"
        table.add_row(r.system, r.direction, _fmt(r.correlation, ".2f"), _fmt(r.lmd, ".3f"), offset, error,
                      _fmt(r.loudness_corr, ".2f"), _fmt(r.silence_pct, ".0f"), _fmt(r.psnr_outside, ".1f"),
                      _fmt(r.seam, ".2f"),
                      f"{r.frames}/{r.frames_expected}", _fmt(r.frames_edited, "d"), _fmt(r.wall_seconds, ".1f"))
    return table


def _clips(clips: tuple[Path, ...], media: Path | None, synthetic: bool, cache: Path,
           synthetic_seconds: float) -> list[Path]:
    from openlipsync.evaluation.sources import default_media_dir, synthetic_talking_clip, videos_in

    found = list(clips)
    if not clips:
        media = media or default_media_dir()
        if media is not None:
            found += videos_in(media)
    if synthetic:
        found.append(synthetic_talking_clip(cache, seconds=synthetic_seconds))
    return found


@click.command("eval")
@click.option("--media", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of real talking clips (its video/ subfolder or itself). "
                   "Default: ../shared/media beside the repository, when present.")
@click.option("--clips", "clips", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluate these clips instead of --media (repeatable).")
@click.option("--model", "-m", "models", multiple=True, type=click.Choice([m.value for m in Model]),
              default=(Model.LIPSYNC_2.value,), show_default=True, help="Engine model(s) to evaluate (repeatable).")
@click.option("--synthetic/--no-synthetic", default=True, show_default=True,
              help="Also evaluate the generated astronaut talking clip (runs on a fresh clone).")
@click.option("--synthetic-seconds", type=click.FloatRange(2, 120), default=10.0, show_default=True)
@click.option("--max-seconds", type=click.FloatRange(min=1), default=None,
              help="Use at most this many seconds of each clip (both halves together).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-out"),
              show_default=True, help="Where halves, outputs, contact sheets and results.json go.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache of dlib measurements and generated clips [default: ~/.cache/openlipsync/eval].")
@click.option("--no-sheet", is_flag=True, help="Skip the contact sheet PNGs.")
@click.option("--photos", is_flag=True,
              help="Also lip-sync a still of each source half (rows '<model> photo'): the photo path, with no "
                   "library of the speaker's mouths and no calibration.")
def eval_cmd(media: Path | None, clips: tuple[Path, ...], models: tuple[str, ...], synthetic: bool,
             synthetic_seconds: float, max_seconds: float | None, out_dir: Path, cache_dir: Path | None,
             no_sheet: bool, photos: bool) -> None:
    """Measure lip-sync quality by cross-segment reconstruction on real clips.

    Each clip is split into halves A and B. The engine lip-syncs the visuals of A to the audio of B (and B
    to A); an independent landmark detector (dlib 68 points, not the engine's MediaPipe) measures the
    output mouth and compares it with the real mouth of B. References on the same run: the real mouth
    (upper bound), the untouched video (no-sync floor) and a naive loudness-driven warp (baseline).

    \b
    Columns (details in docs/EVAL.md):
      corr       Pearson correlation of mouth opening with the real mouth      (goal ≥ 0.65)
      LMD        mean mouth-landmark distance / inter-ocular distance           (lower is better)
      AV off     lag in frames best matching speech loudness to mouth opening; (real video's lag)
      AV err     AV off minus the real video's lag: the sync error once the speaker's own
                 audio-to-mouth lag is taken out (SPEC; goal |err| ≤ 1)
      ~loud      correlation of mouth opening and speech loudness at that lag (real row: how much the
                 real mouth follows loudness at all)
      silence %  mouth opening during audio silence, % of the speaker's open range (goal ≤ 10)
      PSNR out   PSNR outside the lower face, input vs output                   (goal ≥ 45 dB)
      seam       extra edge strength on the border of the edited region, grey levels (0 = invisible)
    """
    from rich.console import Console

    from openlipsync.evaluation.crossseg import EvalConfig, evaluate_clip, summarize
    from openlipsync.evaluation.landmarks import DlibLandmarker, dlib_available
    from openlipsync.evaluation.sources import default_cache_dir

    # every system analyses its half afresh: the wall times stay those of a first job on each video
    os.environ["OPENLIPSYNC_ANALYSIS_CACHE"] = "off"
    console = Console()
    if not console.is_terminal:  # piped or logged: keep every column readable
        console = Console(width=170)
    if not dlib_available():
        click.secho("error: the eval harness needs dlib: pip install 'openlipsync[eval]'", fg="red", err=True)
        sys.exit(6)
    cache = cache_dir or default_cache_dir()
    config = EvalConfig(out_dir=out_dir, models=models, cache_dir=cache, max_seconds=max_seconds,
                        contact_sheet=not no_sheet, photos=photos)
    found = _clips(clips, media, synthetic, cache, synthetic_seconds)
    if not found:
        click.secho("no clips to evaluate (no --clips, no media folder, --no-synthetic)", fg="red", err=True)
        sys.exit(2)
    landmarker = DlibLandmarker()
    all_rows, sheets, started = [], [], time.perf_counter()
    for path in found:
        console.print(f"[bold]{path.name}[/bold]: cross-segment runs …")
        try:
            rows, clip_sheets = evaluate_clip(path, landmarker, config)
        except Exception as exc:  # a broken clip is reported, the others still run
            click.secho(f"  skipped {path.name}: {type(exc).__name__}: {exc}", fg="yellow", err=True)
            continue
        all_rows += rows
        sheets += clip_sheets
        console.print(_table(path.name, rows))
    from openlipsync.evaluation.crossseg import is_synthetic

    real_rows = [r for r in all_rows if not is_synthetic(r)]
    summary_real = summarize(real_rows)
    if real_rows and len(real_rows) < len(all_rows):
        console.print(_table("median over real clips (the acceptance numbers; generated clip excluded)",
                             summary_real))
    summary = summarize(all_rows)
    console.print(_table("median over all clips and directions", summary))
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    results.write_text(json.dumps({
        "models": list(models), "clips": [str(p) for p in found], "wall_seconds": time.perf_counter() - started,
        "runs": [r.to_json() for r in all_rows], "median": [r.to_json() for r in summary],
        "median_real_clips": [r.to_json() for r in summary_real],
        "contact_sheets": [str(s) for s in sheets]}, indent=2))
    console.print(f"results: {results}")
    for s in sheets:
        console.print(f"contact sheet: {s}")
