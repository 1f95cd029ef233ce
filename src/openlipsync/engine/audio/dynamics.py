"""Timing and shape of the mouth trajectory: anticipation, smoothing, closures, rest, temperature."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, shift

from openlipsync.engine.types import MouthPlan

SMOOTH_S = 0.035  # Gaussian σ of the opening/width smoothing (≈ 1 frame at 25 fps)
# The lips part before the voice starts: in natural audiovisual speech the mouth opens 100–300 ms ahead
# of the acoustic onset of a phrase (Chandrasekaran et al. 2009, "The natural statistics of audiovisual
# speech"). The shortest of that range keeps the rest pose of short pauses closed.
ONSET_S = 0.12  # the mouth opens toward the phrase's first syllable this long before speech starts…
RELEASE_S = 0.08  # …and closes from its last syllable this long after it stops
EDGE_SYLLABLE_S = 0.12  # how much of a phrase's start (end) gives the opening the lips reach for


def temperature_gain(temperature: float) -> float:
    """Excursion gain: 0 → 0.4 (subtle), 0.5 → 1.0 (natural), 1 → 1.6 (expressive)."""
    t = float(temperature) if temperature is not None and np.isfinite(temperature) else 0.5
    return 0.4 + 1.2 * float(np.clip(t, 0.0, 1.0))


def _lead(x: np.ndarray, frames: float) -> np.ndarray:
    """x shifted ``frames`` earlier (linear interpolation, edge values held)."""
    if abs(frames) < 1e-3:
        return x
    return shift(x.astype(np.float64), -frames, order=1, mode="nearest")


def _speech_neighbours(speech: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: frames until the next speech frame and since the last one (inf when there is none),
    and the indices of those frames (clipped to the valid range where there is none)."""
    n = speech.size
    idx = np.flatnonzero(speech)
    frames = np.arange(n)
    nxt = np.searchsorted(idx, frames)  # first speech frame at or after each frame
    prv = np.searchsorted(idx, frames, side="right") - 1  # last speech frame at or before
    next_frame = idx[np.minimum(nxt, idx.size - 1)]
    prev_frame = idx[np.maximum(prv, 0)]
    dist_next = np.where(nxt < idx.size, next_frame - frames, np.inf)
    dist_prev = np.where(prv >= 0, frames - prev_frame, np.inf)
    return dist_next, dist_prev, next_frame, prev_frame


def _ramp_frames(fps: float) -> tuple[int, int]:
    """Lengths of the onset and release ramps in frames (at least one each)."""
    return max(1, int(round(ONSET_S * fps))), max(1, int(round(RELEASE_S * fps)))


def _envelope(speech: np.ndarray, fps: float) -> np.ndarray:
    """0..1 talking envelope: 1 in speech, ramping over ONSET_S before and RELEASE_S after, 0 elsewhere."""
    env = speech.astype(np.float64)
    if not speech.any():
        return env
    on, off = _ramp_frames(fps)
    dist_next, dist_prev, _, _ = _speech_neighbours(speech)
    ramp_in = np.clip(1 - dist_next / (on + 1), 0, 1)
    ramp_out = np.clip(1 - dist_prev / (off + 1), 0, 1)
    return np.maximum(env, np.maximum(ramp_in, ramp_out))


def _reach_into_pauses(opening: np.ndarray, speech: np.ndarray, fps: float) -> np.ndarray:
    """``opening`` (0 outside speech) with the frames of the onset and release ramps set to the opening of
    the phrase's first (last) syllable, so that the envelope's ramps open the lips toward it before the
    voice starts and close them after it stops. Without this the ramps multiply zeros."""
    if not speech.any():
        return opening
    on, off = _ramp_frames(fps)
    reach = max(1, int(round(EDGE_SYLLABLE_S * fps)))
    n = speech.size
    # the widest opening in the first (last) `reach` frames of each phrase, read at its first (last) frame
    ahead = np.max(np.stack([opening[np.minimum(np.arange(n) + k, n - 1)] for k in range(reach)]), axis=0)
    behind = np.max(np.stack([opening[np.maximum(np.arange(n) - k, 0)] for k in range(reach)]), axis=0)
    dist_next, dist_prev, next_frame, prev_frame = _speech_neighbours(speech)
    before = np.where(~speech & (dist_next <= on), ahead[next_frame], 0.0)
    after = np.where(~speech & (dist_prev <= off), behind[prev_frame], 0.0)
    return np.maximum(opening, np.maximum(before, after))


def shape_trajectory(opening: np.ndarray, width: np.ndarray, speech: np.ndarray, closure: np.ndarray, *,
                     fps: float, rest_width: float, lead_s: float, temperature: float,
                     closure_lead_s: float | None = None, width_lead_s: float = 0.0) -> MouthPlan:
    """Turn per-frame targets into the final plan (all arrays (n,), opening in inter-ocular units).

    ``lead_s`` moves opening/width earlier (lips lead the sound); closures (timed on the audio)
    move by ``closure_lead_s`` (default ``lead_s``) and width by an extra ``width_lead_s``
    (lip rounding is anticipated further ahead than jaw opening).
    """
    lead = lead_s * fps
    clo_lead = (lead_s if closure_lead_s is None else closure_lead_s) * fps
    speech = speech.astype(bool)
    opening = _reach_into_pauses(np.where(speech, np.maximum(opening, 0.0), 0.0), speech, fps)
    opening = _lead(opening, lead)
    width = _lead(np.where(speech, width, rest_width), lead + width_lead_s * fps)
    sigma = SMOOTH_S * fps
    if sigma > 0.2:
        opening = gaussian_filter1d(opening, sigma, mode="nearest")
        width = gaussian_filter1d(width, 1.5 * sigma, mode="nearest")
    # lip closures (p/b/m, f/v) are applied after smoothing so they stay crisp; a touch of spread keeps
    # the approach to the closure from being a one-frame snap
    clo = np.clip(_lead(np.asarray(closure, np.float64), clo_lead), 0, 1) * speech
    clo = np.clip(clo * 1.5, 0, 1)
    neighbours = np.maximum(np.r_[0.0, clo[:-1]], np.r_[clo[1:], 0.0])
    clo = np.maximum(clo, 0.5 * neighbours)
    opening = opening * (1.0 - clo)
    env = _envelope(speech, fps)
    opening = opening * env
    width = rest_width + (width - rest_width) * env
    gain = temperature_gain(temperature)
    opening = np.maximum(opening * gain, 0.0)
    width = rest_width + (width - rest_width) * gain
    opening[env <= 0] = 0.0
    width[env <= 0] = rest_width
    return MouthPlan(float(fps), opening.astype(np.float32), width.astype(np.float32),
                     speech.copy(), clo.astype(np.float32))
