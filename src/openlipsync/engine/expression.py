"""react-1 tier: audio-driven expression on top of the lip-sync — brows, blinks, small head motion, emotion.

``model_mode`` chooses how much of the face moves: ``lips`` = mouth only (nothing here runs),
``face`` = + brows, blinks and the prompt emotion, ``head`` = + small head motion.

Plan (arrays in, arrays out): talking people raise their brows on stressed syllables and nod with the
loudness of their speech (Cavé et al. 1996, "About the relationship between eyebrow movements and F0
variations"; Graf et al. 2002, "Visual prosody: facial movements accompanying speech"), blink every few
seconds and preferably at pauses (Nakano & Kitazawa 2010). Emotions (``prompt``) are static offsets
after Ekman's FACS descriptions: happy = lip corners up (AU12) and a light brow lift, sad = inner brows up
(AU1) and corners down (AU15), angry = brows lowered and drawn together (AU4), disgusted = AU4 + AU10,
surprised = brows up (AU1+2) and eyes wide (AU5).

Render: a piecewise-affine warp of the face inside its oval (outline fixed, so nothing outside the face
changes) moves brows, lids and mouth corners; head motion is a small similarity transform of the head
that fades out over a band around it (the background beyond the band keeps its pixels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from openlipsync.engine import blend, mesh, warp
from openlipsync.options import Emotion, ModelMode

log = logging.getLogger("openlipsync.engine.expression")

RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
INNER_BROW = (107, 66, 55, 65, 336, 296, 285, 295)
RIGHT_UPPER_LID = (246, 161, 160, 159, 158, 157, 173)
RIGHT_LOWER_LID = (7, 163, 144, 145, 153, 154, 155)
LEFT_UPPER_LID = (466, 388, 387, 386, 385, 384, 398)
LEFT_LOWER_LID = (249, 390, 373, 374, 380, 381, 382)
MOUTH_CORNERS = (61, 291, 78, 308)
MIN_MOVE_PX = 0.25

# Static offsets per emotion (inter-ocular units): brow lift, inner-brow lift, knit (brows together and
# down), lip-corner lift, eye widening (fraction of the lid gap), head-motion gain.
_EMOTION = {
    Emotion.HAPPY: (0.015, 0.0, 0.0, 0.035, 0.0, 1.2),
    Emotion.SAD: (0.0, 0.035, 0.0, -0.025, -0.1, 0.6),
    Emotion.ANGRY: (-0.02, -0.01, 0.035, -0.012, 0.05, 1.3),
    Emotion.DISGUSTED: (-0.012, 0.0, 0.025, -0.02, -0.15, 1.0),
    Emotion.SURPRISED: (0.06, 0.02, 0.0, 0.0, 0.25, 1.1),
    Emotion.NEUTRAL: (0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
}


@dataclass(frozen=True)
class ExpressionPlan:
    """Per output frame (n,), inter-ocular units unless noted.

    brow: brow lift (+ up); inner: extra inner-brow lift; knit: brows lowered and drawn together;
    smile: lip-corner lift (+ up); blink: eyelid closure 0..1 (negative = eyes wider);
    head: (n, 3) head offset (dx, dy, roll in radians).
    """

    brow: np.ndarray
    inner: np.ndarray
    knit: np.ndarray
    smile: np.ndarray
    blink: np.ndarray
    head: np.ndarray

    @property
    def frame_count(self) -> int:
        return int(self.brow.shape[0])


def _smooth(x: np.ndarray, seconds: float, fps: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing over ``seconds``."""
    sigma = max(0.5, seconds * fps)
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(x, r, mode="edge"), k, mode="valid")


def _noise(rng: np.random.Generator, n: int, seconds: float, fps: float) -> np.ndarray:
    """Smooth random motion (unit peak) with a correlation time of ``seconds``."""
    x = _smooth(rng.normal(size=n), seconds, fps)
    return x / max(float(np.abs(x).max()), 1e-6)


def _blinks(speech: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure per frame: ~15 blinks a minute, preferring pause onsets, ≥ 1.2 s apart."""
    n = len(speech)
    out = np.zeros(n, np.float32)
    profile = np.interp(np.arange(0, 0.2, 1 / fps), [0, 0.05, 0.1, 0.2], [0.5, 1.0, 0.6, 0.0])
    pauses = np.flatnonzero(speech[:-1] & ~speech[1:]) + 1
    candidates = [int(p) for p in pauses if rng.random() < 0.7]
    t = rng.uniform(0.5, 2.5) * fps
    while t < n:  # background blinks, Poisson-like
        candidates.append(int(t))
        t += rng.uniform(2.5, 5.5) * fps
    last = -np.inf
    for c in sorted(candidates):
        if c - last < 1.2 * fps:
            continue
        last = c
        seg = profile[: n - c]
        out[c:c + len(seg)] = np.maximum(out[c:c + len(seg)], seg)
    return out


def plan_expression(envelope: np.ndarray, speech: np.ndarray, fps: float, *, mode: ModelMode,
                    emotion: Emotion | None = None, temperature: float = 0.5, seed: int = 0) -> ExpressionPlan:
    """Expression per frame from the driving speech: ``envelope`` (n,) log loudness per frame and
    ``speech`` (n,) voice activity. ``mode`` lips gives an all-zero plan."""
    n = len(envelope)
    zeros = np.zeros(n, np.float32)
    if mode == ModelMode.LIPS or n == 0:
        return ExpressionPlan(zeros, zeros, zeros, zeros, zeros, np.zeros((n, 3), np.float32))
    rng = np.random.default_rng(seed)
    gain = 0.5 + float(temperature)  # 0.5..1.5
    env = np.where(speech, envelope, float(np.min(envelope, initial=0.0)))
    # emphasis: loudness above its own 1-second running level, while speaking
    emph = np.clip(env - _smooth(env, 1.0, fps), 0.0, None) * speech
    emph = emph / max(float(np.percentile(emph, 95)), 1e-6)
    brow_dyn = 0.03 * gain * _smooth(np.clip(emph, 0, 1.5), 0.08, fps)
    lift, inner, knit, smile, widen, head_gain = _EMOTION[emotion or Emotion.NEUTRAL]
    ramp = np.clip(np.arange(n) / max(1.0, 0.4 * fps), 0, 1)  # expressions settle in over 0.4 s
    blink = _blinks(speech.astype(bool), fps, rng) - widen * ramp
    head = np.zeros((n, 3), np.float32)
    if mode == ModelMode.HEAD:
        level = _smooth(np.clip((env - np.median(env)) / max(float(np.ptp(env)), 1e-6), 0, 1), 0.25, fps)
        head[:, 0] = 0.03 * _noise(rng, n, 0.9, fps)
        head[:, 1] = 0.025 * level + 0.01 * _noise(rng, n, 0.5, fps)  # nods with the loudness
        head[:, 2] = 0.02 * _noise(rng, n, 1.2, fps)
        head *= gain * head_gain * ramp[:, None]
    return ExpressionPlan((brow_dyn + lift * ramp).astype(np.float32), (inner * ramp).astype(np.float32),
                          (knit * ramp).astype(np.float32), (smile * ramp).astype(np.float32),
                          blink.astype(np.float32), head)


def expression_targets(lm: np.ndarray, brow: float, inner: float, knit: float, smile: float) -> np.ndarray:
    """The 468 mesh points moved by one frame of expression (pixels)."""
    across, down = mesh.face_axes(lm)
    d = float(mesh.interocular(lm))
    pts = lm[:468].astype(np.float64)
    out = pts.copy()
    eye_mid = sum(mesh.eye_centres(lm)) / 2
    v = ((pts - eye_mid) @ down) / d  # negative above the eye line
    u = ((pts - eye_mid) @ across) / d
    # brows and the forehead skin just above them follow the lift; the upper lids follow a little
    brow_idx = np.array(RIGHT_BROW + LEFT_BROW)
    v_brow = float(v[brow_idx].mean())
    w = np.exp(-0.5 * ((v - v_brow) / 0.18) ** 2) * (v < v_brow + 0.12)
    w[brow_idx] = 1.0
    inner_w = np.zeros(len(pts))
    inner_w[list(INNER_BROW)] = 1.0
    inner_w = np.maximum(inner_w, w * np.clip(1 - np.abs(u) / 0.6, 0, 1))
    lift = brow * w + inner * inner_w - knit * inner_w
    out -= np.outer(lift * d, down)
    out -= np.outer(knit * 0.6 * d * np.sign(u) * inner_w, across)  # drawn together
    # lip corners up/down with the nearby cheek
    for c in MOUTH_CORNERS[:2]:
        dist2 = ((pts - pts[c]) ** 2).sum(1) / (0.35 * d) ** 2
        out -= np.outer(smile * d * np.exp(-dist2), down)
    return out.astype(np.float32)


@dataclass
class ExpressionRenderer:
    """Applies an ExpressionPlan to output frames (``apply`` per frame, after the mouth render)."""

    plan: ExpressionPlan
    seconds: float = 0.0

    def apply(self, frame: np.ndarray, lm: np.ndarray, i: int) -> np.ndarray:
        """``frame`` with frame ``i`` of the plan applied to the face with landmarks ``lm``."""
        import time

        t0 = time.perf_counter()
        p = self.plan
        k = min(i, p.frame_count - 1)
        out = frame
        if max(abs(p.brow[k]), abs(p.inner[k]), abs(p.knit[k]), abs(p.smile[k])) > 1e-4:
            dst = expression_targets(lm, p.brow[k], p.inner[k], p.knit[k], p.smile[k])
            if float(np.abs(dst - lm[:468]).max()) >= MIN_MOVE_PX:  # sub-pixel motion is not worth a warp
                out = warp_face(out, lm, dst)
        if abs(p.blink[k]) > 1e-3:
            out = move_lids(out, lm, float(p.blink[k]))
        if np.abs(p.head[k]).max() > 1e-5:
            out = move_head(out, lm, *p.head[k])
        self.seconds += time.perf_counter() - t0
        return out


def move_lids(frame: np.ndarray, lm: np.ndarray, closure: float) -> np.ndarray:
    """Slide both upper eyelids down by ``closure`` (1 = shut; negative = eyes wider).

    Per column along the eye, the lid skin between a line above the lid and the lid edge is stretched
    down to the new lid position and the visible eye below it is compressed (a warp of the eye alone
    would fold the iris); the lash line moves with the lid. Identity outside each eye's box."""
    out = frame.copy()
    across, down = mesh.face_axes(lm)
    d = float(mesh.interocular(lm))
    for upper, lower, corners in ((RIGHT_UPPER_LID, RIGHT_LOWER_LID, (33, 133)),
                                  (LEFT_UPPER_LID, LEFT_LOWER_LID, (362, 263))):
        ca, cb = lm[corners[0]], lm[corners[1]]
        centre = (ca + cb) / 2
        box = warp.roi_box(np.array([ca, cb]), frame.shape[:2], margin=0.35 * d)
        x0, y0, x1, y1 = box
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rel_x = (xx - centre[0]) * across[0] + (yy - centre[1]) * across[1]
        rel_y = (xx - centre[0]) * down[0] + (yy - centre[1]) * down[1]
        ux, uy = _lid_curve(lm, (corners[0], *upper, corners[1]), centre, across, down)
        lx, ly = _lid_curve(lm, (corners[0], *lower, corners[1]), centre, across, down)
        order_u, order_l = np.argsort(ux), np.argsort(lx)
        y_lid = np.interp(rel_x, ux[order_u], uy[order_u])
        y_low = np.maximum(np.interp(rel_x, lx[order_l], ly[order_l]), y_lid)
        y_top = y_lid - 0.22 * d
        gap = y_low - y_lid
        y_new = y_lid + (0.95 * closure * gap if closure > 0 else 0.35 * closure * (y_lid - y_top))
        src_y = rel_y.copy()
        above = (rel_y >= y_top) & (rel_y < y_new)
        src_y[above] = (y_top + (rel_y - y_top) * (y_lid - y_top) / np.maximum(y_new - y_top, 1e-3))[above]
        eye = (rel_y >= y_new) & (rel_y <= y_low)
        src_y[eye] = (y_lid + (rel_y - y_new) * gap / np.maximum(y_low - y_new, 1e-3))[eye]
        shift = src_y - rel_y
        map_x = (xx + shift * down[0]).astype(np.float32)
        map_y = (yy + shift * down[1]).astype(np.float32)
        roi = cv2.remap(frame, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        still = np.abs(shift) < 1e-4
        roi[still] = frame[y0:y1, x0:x1][still]
        out[y0:y1, x0:x1] = roi
    return out


def _lid_curve(lm: np.ndarray, idx: tuple[int, ...], centre: np.ndarray, across: np.ndarray,
               down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = lm[list(idx)] - centre
    return pts @ across, pts @ down


def _oval(lm: np.ndarray, scale: float) -> np.ndarray:
    oval = lm[mesh.IDX["FACE_OVAL"]]
    centre = oval.mean(0)
    return (centre + (oval - centre) * scale).astype(np.float32)


def warp_face(frame: np.ndarray, lm: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Warp the face inside its (slightly grown) oval so mesh points ``lm[:468]`` move to ``dst``."""
    d = float(mesh.interocular(lm))
    outline = _oval(lm, 1.12)
    box = warp.roi_box(outline, frame.shape[:2], margin=2)
    off = np.array(box[:2], np.float32)
    x0, y0, x1, y1 = box
    roi = frame[y0:y1, x0:x1]
    size = roi.shape[:2]
    ctrl_dst = np.concatenate([dst - off, outline - off])
    ctrl_src = np.concatenate([lm[:468] - off, outline - off])
    map_x, map_y = warp.backward_maps(ctrl_dst, ctrl_src, size)
    warped = warp.remap(roi, map_x, map_y)
    mask = blend.feathered_polygon(outline - off, size, max(1.0, 0.04 * d))
    out = frame.copy()
    out[y0:y1, x0:x1] = blend.alpha_blend(roi, warped, mask)
    return out


def move_head(frame: np.ndarray, lm: np.ndarray, dx: float, dy: float, roll: float) -> np.ndarray:
    """Move the head by (dx, dy) inter-ocular units and ``roll`` radians about the chin; the motion fades
    to nothing over a band around the head so the background further out is untouched."""
    d = float(mesh.interocular(lm))
    across, down = mesh.face_axes(lm)
    head = _oval(lm, 1.35)
    band = 0.6 * d
    box = warp.roi_box(head, frame.shape[:2], margin=band + 2)
    x0, y0, x1, y1 = box
    off = np.array([x0, y0], np.float32)
    h, w = y1 - y0, x1 - x0
    inside = blend.polygon_mask(head - off, (h, w))
    dist = cv2.distanceTransform((inside < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    weight = np.clip(1.0 - dist / band, 0.0, 1.0)
    weight = weight * weight * (3 - 2 * weight)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    pivot = lm[mesh.CHIN] - off
    c, s = np.cos(roll), np.sin(roll)
    rx, ry = xx - pivot[0], yy - pivot[1]
    shift = (dx * across + dy * down) * d
    # forward motion of each pixel; backward map ≈ p − weight·motion (small motions)
    mx = (c * rx - s * ry + pivot[0] - xx) + shift[0]
    my = (s * rx + c * ry + pivot[1] - yy) + shift[1]
    map_x = (xx - weight * mx).astype(np.float32)
    map_y = (yy - weight * my).astype(np.float32)
    roi = frame[y0:y1, x0:x1]
    moved = cv2.remap(roi, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved[weight <= 0] = roi[weight <= 0]
    out = frame.copy()
    out[y0:y1, x0:x1] = moved
    return out
