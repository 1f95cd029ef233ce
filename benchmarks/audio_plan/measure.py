"""Cross-segment check of the mouth plan on the dev videos (development only; not in the test suite).

For each video: real mouth per frame from landmarks (see groundtruth.py), split into halves A/B,
calibrate on A (audio + mediapipe mouth), predict B's mouth from B's audio, and report the Pearson
correlation of opening (lag 0 and best lag within ±2 frames) against the mediapipe and the dlib
measurement of B. Also the reverse direction, the prior alone (no calibration) and plain loudness.

    .venv/bin/python benchmarks/audio_plan/measure.py [videos...] [--detail] [--no-phones]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from groundtruth import mouth_truth  # noqa: E402

from openlipsync.engine.audio.features import frame_features  # noqa: E402
from openlipsync.engine.plan import plan_mouth  # noqa: E402
from openlipsync.engine.types import Calibration, MouthShapes  # noqa: E402
from openlipsync.media.audio import load_audio  # noqa: E402

SR = 16_000
VIDEOS = sorted(Path("/work/shared/media/video").glob("*.mp4"))


def corr(a: np.ndarray, b: np.ndarray, valid: np.ndarray, lag: int = 0) -> float:
    """Pearson r of a[t] vs b[t + lag] over valid frames (positive lag: prediction leads truth)."""
    n = a.size
    idx = np.arange(max(0, -lag), min(n, n - lag))
    x, y, v = a[idx], b[idx + lag], valid[idx + lag]
    x, y = x[v], y[v]
    if x.size < 5 or x.std() < 1e-9 or y.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def scores(pred: np.ndarray, truth: MouthShapes) -> tuple[float, float, int]:
    r0 = corr(pred, truth.opening, truth.valid)
    lags = {lag: corr(pred, truth.opening, truth.valid, lag) for lag in range(-2, 3)}
    best = max(lags, key=lambda k: lags[k])
    return r0, lags[best], best


def av_lag(envelope: np.ndarray, opening: np.ndarray, valid: np.ndarray, max_lag: int = 8) -> int:
    """Lag (frames) maximising corr(envelope[t], opening[t + lag]); positive = mouth after sound."""
    return max(range(-max_lag, max_lag + 1), key=lambda k: corr(envelope, opening, valid, k))


def _slice(s: MouthShapes, a: int, b: int) -> MouthShapes:
    return MouthShapes(s.opening[a:b], s.width[a:b], s.valid[a:b])


def main(videos: list[Path], detail: bool = False, phones: bool = True) -> None:
    rows = []
    for video in videos:
        audio = load_audio(video, SR)
        mp, fps = mouth_truth(video, "mediapipe")
        dl, _ = mouth_truth(video, "dlib")
        n = min(mp.opening.size, dl.opening.size)
        h = n // 2
        cut = [0, int(round(h / fps * SR)), int(round(n / fps * SR))]
        halves = {"A": (0, h), "B": (h, n)}
        seg_audio = {"A": audio[cut[0]:cut[1]], "B": audio[cut[1]:cut[2]]}
        for cal, tgt in (("A", "B"), ("B", "A")):
            a0, a1 = halves[cal]
            b0, b1 = halves[tgt]
            calib = Calibration(seg_audio[cal], SR, fps, _slice(mp, a0, a1))
            t0 = time.process_time()  # CPU seconds: wall time is meaningless on the shared 2-core box
            plan_c = plan_mouth(seg_audio[tgt], SR, fps, b1 - b0, calibration=calib, temperature=0.5,
                                phones=phones)
            dt = time.process_time() - t0
            plan_p = plan_mouth(seg_audio[tgt], SR, fps, b1 - b0, temperature=0.5, phones=phones)
            loud = frame_features(seg_audio[tgt], SR, fps, b1 - b0).energy
            rms = 10 ** (loud / 20)
            for det, truth in (("mp", mp), ("dlib", dl)):
                tr = _slice(truth, b0, b1)
                span = np.percentile(tr.opening[tr.valid], 95) - np.percentile(tr.opening[tr.valid], 5)
                quiet = ~plan_c.speech
                rows.append({
                    "clip": f"{video.stem[:3]} {cal}->{tgt}", "det": det,
                    "calib": scores(plan_c.opening, tr), "prior": scores(plan_p.opening, tr),
                    "loud": scores(rms, tr), "sec": dt,
                    "width_r": corr(plan_c.width, tr.width, tr.valid),
                    "av": av_lag(rms, plan_c.opening, np.ones(b1 - b0, bool)) - av_lag(rms, tr.opening, tr.valid),
                    "silence": float(plan_c.opening[quiet].mean() / span) if quiet.any() else 0.0,
                })
            if detail:
                tr = _slice(mp, b0, b1)
                print(video.stem, cal, "->", tgt)
                print("  truth ", np.round(tr.opening[:60], 2))
                print("  calib ", np.round(plan_c.opening[:60], 2))
                print("  prior ", np.round(plan_p.opening[:60], 2))
    print(f"{'clip':10s} {'det':5s} {'calibrated r0/best(lag)':>25s} {'prior r0/best(lag)':>22s} "
          f"{'loudness r0/best(lag)':>22s} {'width r':>8s} {'AV off':>6s} {'sil/range':>9s} {'cpu s':>6s}")
    for r in rows:
        def f(s: tuple[float, float, int]) -> str:
            return f"{s[0]:6.3f} / {s[1]:6.3f} ({s[2]:+d})"

        print(f"{r['clip']:10s} {r['det']:5s} {f(r['calib']):>25s} {f(r['prior']):>22s} {f(r['loud']):>22s} "
              f"{r['width_r']:8.3f} {r['av']:+6d} {r['silence']:9.3f} {r['sec']:6.2f}")
    for det in ("mp", "dlib"):
        sel = [r for r in rows if r["det"] == det]
        med = {k: (np.median([r[k][0] for r in sel]), np.median([r[k][1] for r in sel]))
               for k in ("calib", "prior", "loud")}
        print(f"MEDIAN vs {det:5s}: calibrated {med['calib'][0]:.3f}/{med['calib'][1]:.3f}  "
              f"prior {med['prior'][0]:.3f}/{med['prior'][1]:.3f}  loudness {med['loud'][0]:.3f}/{med['loud'][1]:.3f}  "
              f"width r {np.median([r['width_r'] for r in sel]):.3f}  "
              f"|AV offset| {np.median([abs(r['av']) for r in sel]):.1f}  "
              f"silence/range {np.median([r['silence'] for r in sel]):.3f}")
    print(f"MEAN (both detectors): calibrated {np.mean([r['calib'][0] for r in rows]):.3f}  "
          f"prior {np.mean([r['prior'][0] for r in rows]):.3f}  width r {np.mean([r['width_r'] for r in rows]):.3f}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main([Path(a) for a in args] or VIDEOS, detail="--detail" in sys.argv, phones="--no-phones" not in sys.argv)
