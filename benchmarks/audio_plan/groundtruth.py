"""Real per-frame mouth opening/width of the dev videos (development only, not part of the package).

Two independent landmark detectors:
- mediapipe face mesh 0.10.14 in tracking mode (inner lips 13/14, corners 61/291, eye corners);
- dlib HOG + 68-point ERT (inner lips 62/66, corners 48/54, eye centres 36–41 / 42–47).
Units: divided by the inter-ocular distance (eye centres), as in ``MouthShapes``.
Results are cached as .npz in a temp dir keyed by file name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from openlipsync.engine.types import MouthShapes
from openlipsync.media import iter_frames

CACHE = Path("/tmp/olp_audio_plan_cache")


def _mediapipe(video: Path) -> MouthShapes:
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                                           min_detection_confidence=0.5, min_tracking_confidence=0.5)
    op, wd, ok = [], [], []
    for frame in iter_frames(video):
        h, w = frame.shape[:2]
        res = mesh.process(frame)
        if not res.multi_face_landmarks:
            op.append(0.0), wd.append(0.0), ok.append(False)
            continue
        p = np.array([(q.x * w, q.y * h) for q in res.multi_face_landmarks[0].landmark])
        le, re = p[[33, 133]].mean(0), p[[362, 263]].mean(0)
        iod = np.linalg.norm(le - re)
        op.append(np.linalg.norm(p[13] - p[14]) / iod)
        wd.append(np.linalg.norm(p[61] - p[291]) / iod)
        ok.append(True)
    mesh.close()
    return MouthShapes(np.float32(op), np.float32(wd), np.array(ok))


def _dlib(video: Path) -> MouthShapes:
    import dlib
    import face_recognition_models as frm

    det = dlib.get_frontal_face_detector()
    pred = dlib.shape_predictor(frm.pose_predictor_model_location())
    op, wd, ok = [], [], []
    box = None
    for i, frame in enumerate(iter_frames(video)):
        h, w = frame.shape[:2]
        if box is None or i % 10 == 0:  # re-detect periodically on a small copy
            s = 640 / max(h, w)
            small = frame[:: max(1, int(round(1 / s))), :: max(1, int(round(1 / s)))]
            f = frame.shape[1] / small.shape[1]
            dets = det(small, 0) or det(small, 1)  # small faces (a standing speaker) need one upsampling
            if dets:
                d = max(dets, key=lambda r: r.width() * r.height())
                box = dlib.rectangle(int(d.left() * f), int(d.top() * f), int(d.right() * f), int(d.bottom() * f))
        if box is None:
            op.append(0.0), wd.append(0.0), ok.append(False)
            continue
        sh = pred(frame, box)
        p = np.array([(sh.part(k).x, sh.part(k).y) for k in range(68)], float)
        iod = np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0))
        op.append(np.linalg.norm(p[62] - p[66]) / iod)
        wd.append(np.linalg.norm(p[48] - p[54]) / iod)
        ok.append(True)
    return MouthShapes(np.float32(op), np.float32(wd), np.array(ok))


def frame_times(video: Path) -> np.ndarray:
    """Presentation time (s) of every stored frame, in decode order (handles variable frame rate)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=pts_time,best_effort_timestamp_time", "-of", "csv=p=0", str(video)],
                         capture_output=True, text=True, check=True).stdout
    times = []
    for line in out.split():
        vals = [v for v in line.split(",") if v and v != "N/A"]
        times.append(float(vals[0]))
    return np.array(times)


def nominal_fps(video: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=r_frame_rate", "-of", "csv=p=0", str(video)],
                         capture_output=True, text=True, check=True).stdout.strip()
    a, b = out.split("/")
    return float(a) / float(b)


def mouth_truth(video: Path, detector: str = "mediapipe") -> tuple[MouthShapes, float]:
    """(shapes, fps) resampled onto a uniform grid at the nominal frame rate: grid frame i starts at
    i/fps on the audio clock (sample 0 of the audio track = t 0)."""
    CACHE.mkdir(exist_ok=True)
    cache = CACHE / f"{video.stem}.{detector}.npz"
    if cache.exists():
        z = np.load(cache)
        shapes = MouthShapes(z["opening"], z["width"], z["valid"])
    else:
        shapes = _mediapipe(video) if detector == "mediapipe" else _dlib(video)
        np.savez(cache, opening=shapes.opening, width=shapes.width, valid=shapes.valid)
    t = frame_times(video)[: shapes.opening.size]
    fps = nominal_fps(video)
    n = int(round((t[-1] + 1 / fps) * fps))
    grid = np.arange(n) / fps
    ok = shapes.valid[: t.size]
    op = np.interp(grid, t[ok], shapes.opening[: t.size][ok])
    wd = np.interp(grid, t[ok], shapes.width[: t.size][ok])
    # a grid frame is valid when a measured frame lies within one nominal frame of it
    tk = t[ok]
    j = np.clip(np.searchsorted(tk, grid), 1, tk.size - 1)
    near = np.minimum(np.abs(tk[j] - grid), np.abs(tk[j - 1] - grid)) <= 1.01 / fps
    return MouthShapes(op.astype(np.float32), wd.astype(np.float32), near), fps


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        for det in ("mediapipe", "dlib"):
            s, fps = mouth_truth(Path(arg), det)
            o = s.opening[s.valid]
            print(f"{Path(arg).name} {det}: n={s.opening.size} valid={s.valid.mean():.2f} fps={fps:.2f} "
                  f"opening p5/50/95={np.percentile(o, [5, 50, 95]).round(3)} "
                  f"width p5/50/95={np.percentile(s.width[s.valid], [5, 50, 95]).round(3)}")
