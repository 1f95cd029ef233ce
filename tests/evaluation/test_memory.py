"""Memory is flat in video length: peak RSS of a 5 s and a 1 s run differ by a bounded amount.

Each run is its own process (peak RSS = VmHWM of that process). The pipeline's deliberate decoded-frame
cache (``FRAME_CACHE_BYTES``, for loop/bounce re-reads) is shrunk to 8 MiB in both runs so that only
growth that is *not* bounded by design shows up. Holding every frame of the longer input would add
100 frames × 0.7 MB ≈ 69 MB; the bound is less than half of that. The frames the tracking pass sets aside
for the render pass (``media.spill``) stay on: they go to a temporary file, and in memory they would
fail this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openlipsync.evaluation.synthetic import make_bench_video, make_speech

CHILD = """
import sys
import openlipsync.pipeline as pipeline
from openlipsync.evaluation.bench_child import peak_rss_kib
from openlipsync.lipsync import lipsync
from openlipsync.options import LipSyncOptions, Model, SyncMode
pipeline.FRAME_CACHE_BYTES = 8 * 1024 * 1024
lipsync(sys.argv[1], sys.argv[2], sys.argv[3], LipSyncOptions(model=Model.LIPSYNC_2, sync_mode=SyncMode.CUT_OFF))
print("PEAK", peak_rss_kib())
"""


def _peak_mib(video: Path, audio: Path, out: Path) -> float:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(video), str(audio), str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PEAK"))
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_peak_rss_does_not_grow_with_video_length(tmp_path: Path):
    peaks = {}
    for seconds in (1.0, 5.0):
        speech = make_speech(tmp_path / f"s{seconds:g}.wav", seconds)
        video = make_bench_video(tmp_path / f"v{seconds:g}.mp4", height=360, seconds=seconds, audio=speech)
        peaks[seconds] = _peak_mib(video, speech, tmp_path / f"o{seconds:g}.mp4")
    assert peaks[5.0] - peaks[1.0] < 32.0, peaks


def test_the_tree_sampler_sees_a_child_peak_without_reading_pss_on_every_poll():
    import time

    from openlipsync.evaluation.bench_child import TreeMemory

    hold = "import time; block = bytearray(160 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); " \
           "time.sleep(1.5)"
    with TreeMemory(interval=0.05, pss_every=10.0) as memory:
        time.sleep(0.3)  # a flat stretch first: polls without new highs read no PSS
        subprocess.run([sys.executable, "-c", hold], check=True, timeout=60)
    assert memory.peak_kib > 160 * 1024  # the child's pages were counted at their peak
    assert 2 <= memory.samples < 20  # about 36 polls; PSS only at the first and at new RSS highs
