"""``openlipsync eval`` end to end on a generated talking clip (engine + dlib + references)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from openlipsync.cli.main import cli
from openlipsync.evaluation.crossseg import LOUDNESS, PHOTO, REAL, UNTOUCHED
from openlipsync.evaluation.metrics import PSNR_CAP


def test_eval_runs_both_directions_with_all_references(talking_clip: Path, tmp_path: Path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--clips", str(talking_clip), "--no-synthetic", "--out", str(out),
                                      "--cache", str(tmp_path / "cache"), "-m", "lipsync-1.9", "--photos"])
    assert result.exit_code == 0, result.output
    assert "median over all clips" in result.output and "corr" in result.output
    data = json.loads((out / "results.json").read_text())
    runs = data["runs"]
    photo = f"lipsync-1.9 {PHOTO}"
    assert {(r["direction"], r["system"]) for r in runs} == {
        (d, s) for d in ("A<-B", "B<-A") for s in (REAL, UNTOUCHED, LOUDNESS, "lipsync-1.9", photo)}
    by = {(r["direction"], r["system"]): r for r in runs}
    for d in ("A<-B", "B<-A"):
        real, untouched = by[(d, REAL)], by[(d, UNTOUCHED)]
        assert real["correlation"] > 0.999 and real["lmd"] < 1e-6  # the truth against itself
        assert real["av_error"] == 0  # the real mouth's lag against the real video's own
        assert untouched["psnr_outside"] == PSNR_CAP and untouched["frames_edited"] == 0
        for system in (LOUDNESS, "lipsync-1.9"):
            row = by[(d, system)]
            assert row["error"] is None
            assert row["frames"] == row["frames_expected"] == real["frames"]  # cut_off: nothing dropped
            assert 25 < row["psnr_outside"] <= PSNR_CAP
            assert row["face_fraction"] > 0.9 and row["lmd"] > 0
            assert row["av_error"] == row["av_offset"] - row["av_offset_real"]
        # the photo path: a still of the source half, its output compared frame by frame in time with the
        # real mouth, and its fidelity with the still
        still = by[(d, photo)]
        assert still["error"] is None and still["output"].endswith("-photo.mp4")
        assert still["frames"] == still["frames_expected"] == real["frames"]
        assert still["frames_edited"] > 0 and still["face_fraction"] > 0.9
        assert 25 < still["psnr_outside"] <= PSNR_CAP and np.isfinite(still["correlation"])
    # the clip's mouth follows its syllables, so the loudness-driven baseline must track it far better
    # than the untouched video does
    for d in ("A<-B", "B<-A"):
        assert by[(d, LOUDNESS)]["correlation"] > by[(d, UNTOUCHED)]["correlation"] + 0.2
        # the real mouth follows its own speech, and the baseline is driven by nothing but loudness
        assert by[(d, REAL)]["loudness_corr"] > 0.3
        assert by[(d, LOUDNESS)]["loudness_corr"] > by[(d, UNTOUCHED)]["loudness_corr"]
    sheets = [Path(p) for p in data["contact_sheets"]]
    assert len(sheets) == 4 and all(p.stat().st_size > 10_000 for p in sheets)
    assert sum(p.name.endswith(f"_{PHOTO}.png") for p in sheets) == 2


def test_eval_caches_the_real_clip_measurements(talking_clip: Path, tmp_path: Path):
    from openlipsync.evaluation.landmarks import DlibLandmarker, measure_video

    cache = tmp_path / "cache"
    first = measure_video(talking_clip, DlibLandmarker(), cache)
    assert len(list(cache.glob("dlib68-*.npy"))) == 1

    class Exploding:
        def track(self, frames):  # the cache must answer without measuring again
            raise AssertionError("measured again")

    again = measure_video(talking_clip, Exploding(), cache)  # type: ignore[arg-type]
    assert np.array_equal(first, again, equal_nan=True)


def test_eval_without_clips_fails_clearly(tmp_path: Path):
    result = CliRunner().invoke(cli, ["eval", "--media", str(tmp_path), "--no-synthetic", "--out",
                                      str(tmp_path / "o")])
    assert result.exit_code in (2, 6)
    assert "no clips" in result.output or "dlib" in result.output

