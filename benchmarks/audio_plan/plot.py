"""Plot a mouth plan against the audio (and the real mouth when a video is given), for eyeballing.

    .venv/bin/python benchmarks/audio_plan/plot.py MEDIA [OUT.png]   # MEDIA: wav or a dev video
Videos: calibrate on the first half, plot the second half (plan, prior-only plan, real mouth).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from openlipsync.engine.audio.features import frame_features  # noqa: E402
from openlipsync.engine.plan import plan_mouth  # noqa: E402
from openlipsync.engine.types import Calibration, MouthShapes  # noqa: E402
from openlipsync.media.audio import load_audio  # noqa: E402

SR = 16_000


def main(media: Path, out: Path) -> None:
    audio = load_audio(media, SR)
    truth = None
    if media.suffix.lower() in {".mp4", ".mov", ".mkv", ".webm"}:
        from groundtruth import mouth_truth

        mp, fps = mouth_truth(media, "mediapipe")
        n = mp.opening.size
        h = n // 2
        cut = int(round(h / fps * SR))
        cal = Calibration(audio[:cut], SR, fps, MouthShapes(mp.opening[:h], mp.width[:h], mp.valid[:h]))
        audio = audio[cut:int(round(n / fps * SR))]
        truth = MouthShapes(mp.opening[h:], mp.width[h:], mp.valid[h:])
        n = n - h
    else:
        fps, cal = 25.0, None
        n = int(len(audio) / SR * fps)
    plan = plan_mouth(audio, SR, fps, n, calibration=cal)
    prior = plan_mouth(audio, SR, fps, n)
    energy = frame_features(audio, SR, fps, n).energy
    t = np.arange(n) / fps
    fig, ax = plt.subplots(2, 1, figsize=(16, 7), sharex=True)
    ax[0].plot(t, plan.opening, label="plan (calibrated)" if cal else "plan")
    if cal:
        ax[0].plot(t, prior.opening, label="prior only", alpha=0.7)
    if truth is not None:
        ax[0].plot(t, truth.opening, label="real (mediapipe)", color="k", alpha=0.6)
    ax[0].fill_between(t, 0, plan.closure * 0.05, color="r", alpha=0.4, label="closure")
    ax[0].set_ylabel("opening / IOD")
    ax[0].legend()
    ax[1].plot(t, plan.width, label="plan width")
    if truth is not None:
        ax[1].plot(t, truth.width, label="real width", color="k", alpha=0.6)
    ax2 = ax[1].twinx()
    ax2.plot(t, energy, color="g", alpha=0.4, label="energy dB")
    ax2.fill_between(t, -80, np.where(plan.speech, -75, -80), color="g", alpha=0.2)
    ax[1].legend(loc="upper left")
    ax[1].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(out, dpi=70)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/audio_plan.png"))
