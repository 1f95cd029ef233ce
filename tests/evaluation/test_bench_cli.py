"""``openlipsync bench`` on a tiny generated input: the table and the JSON, no timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from openlipsync.cli.main import cli
from openlipsync.evaluation.bench import FLOOR
from openlipsync.evaluation.synthetic import make_bench_video, make_speech


def test_bench_prints_floor_and_model_rows_and_the_reused_analysis_row(tmp_path: Path):
    speech = make_speech(tmp_path / "speech.wav", 1.6)
    video = make_bench_video(tmp_path / "tiny.mp4", height=240, seconds=1.6, audio=speech)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", str(video), "--models", "lipsync-1.9", "--synthetic", "",
                                      "--reuse", "--json", str(out)])
    assert result.exit_code == 0, result.output
    for text in ("× real time", "× floor", "peak RSS", FLOOR, "lipsync-1.9", "426x240@25"):
        assert text in result.output
    rows = json.loads(out.read_text())
    assert [r["system"] for r in rows] == [FLOOR, "lipsync-1.9", "lipsync-1.9 reused"]
    floor, engine, reused = rows
    assert floor["error"] is None and engine["error"] is None and reused["error"] is None, rows
    assert floor["floor_ratio"] == 1.0 and floor["frames"] == 40
    assert engine["frames"] == 40 and engine["realtime_factor"] > 0
    assert engine["floor_ratio"] == engine["wall"] / floor["wall"]
    assert engine["peak_rss_mib"] > 30 and engine["ffmpeg_peak_rss_mib"] > 0
    assert engine["tree_pss_mib"] > 30
    assert "encode" in engine["stage_seconds"] or "decode" in engine["stage_seconds"]
    # every plain run analyses its video; the reused row takes the analysis from its own cache
    assert "track" in engine["stage_seconds"] and "reuse" not in engine["stage_seconds"]
    assert "track" not in reused["stage_seconds"] and "reuse" in reused["stage_seconds"]
    assert reused["frames"] == 40
