"""Person-specific audio→mouth model fitted on the input video's own speech and measured mouth.

A ridge regression from context-pooled acoustic + phone features (see ``context``) to the measured
opening and width, with lambda chosen by blocked cross-validation. How much the planner trusts it over
the generic prior is chosen on the same calibration frames: the mix of its out-of-fold predictions and
the prior that follows the person's real mouth best.
The person's own opening range (percentiles in speech) and rest width are kept for scaling.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from openlipsync.engine.audio.analysis import AudioAnalysis, analyse
from openlipsync.engine.audio.prior import prior_openness
from openlipsync.engine.audio.ridge import RidgeModel, cv_ridge, fit_ridge, weighted_r
from openlipsync.engine.types import Calibration, MouthShapes

log = logging.getLogger("openlipsync.engine.audio")

MIN_SPEECH_SECONDS = 1.0  # less than this and the model is not worth fitting
# Frames of shift on top of the design's ±2-frame context windows: together ±3 frames (±120 ms at 25 fps),
# the range of real audio-visual asynchrony. A wider search (±3 on top) fits noise on short clips: on one
# development run the plan then trailed the audio by 7 frames (−1 with this range).
LAGS = (0, -1, 1)
LAG_PENALTY = 0.01  # CV r given up per frame of shift
FIT_THREADS = 2
MAX_SECONDS = 120.0  # longer calibration videos: the first 2 minutes are plenty for ~150 parameters
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the person model's share in the mix with the prior


@dataclass(frozen=True)
class PersonRange:
    """The person's own mouth statistics (inter-ocular units)."""

    open_p50: float  # median opening while speaking
    open_p95: float  # a wide (but not extreme) opening while speaking
    rest_opening: float  # median opening in silence (or a low percentile when there is none)
    rest_width: float  # median width in silence (or overall)
    width_spread: float  # p95 - p5 of width while speaking


@dataclass(frozen=True)
class PersonModel:
    """Fitted calibration: predictors, quality and the person's range."""

    opening: RidgeModel | None
    width: RidgeModel | None
    opening_r: float  # cross-validated Pearson r of opening on the calibration frames
    width_r: float
    speech_seconds: float
    range: PersonRange
    open_map: tuple[float, float]  # affine map (a, b): opening = a * ridge_output + b, undoing ridge shrinkage
    lag_s: float  # the mouth follows the audio features by this much (negative: lips lead)
    blend: float = 0.0  # the person model's share in its mix with the generic prior (see blend_weight)

    def predict_opening(self, x: np.ndarray) -> np.ndarray:
        """Opening for rows ``x`` of ``design_for`` (requires ``opening``), in the person's own range."""
        assert self.opening is not None
        return mapped_opening(self.opening.predict(x), self.open_map, self.range)

    def design_for(self, design: np.ndarray, fps: float) -> np.ndarray:
        """Rows of an AudioAnalysis.design() realigned with this person's timing."""
        return shift_rows(design, int(round(self.lag_s * fps)))

    def trust(self) -> float:
        """0..1 weight of this model against the generic prior: its ``blend``, less with little speech."""
        if self.opening is None:
            return 0.0
        return self.blend * float(np.clip(self.speech_seconds / 3.0, 0.0, 1.0))


def person_range(cal: Calibration, speech: np.ndarray) -> PersonRange | None:
    """Opening/width statistics of the calibration video, or None when too few frames were measured."""
    s = cal.shapes
    n = min(s.opening.size, speech.size)
    valid = np.asarray(s.valid[:n], bool) & np.isfinite(s.opening[:n]) & np.isfinite(s.width[:n])
    if valid.sum() < 10:
        return None
    op, wd, sp = s.opening[:n].astype(np.float64), s.width[:n].astype(np.float64), speech[:n]
    talk, quiet = valid & sp, valid & ~sp
    talk = talk if talk.sum() >= 10 else valid
    rest_open = float(np.median(op[quiet])) if quiet.sum() >= 5 else float(np.percentile(op[valid], 5))
    rest_width = float(np.median(wd[quiet])) if quiet.sum() >= 5 else float(np.median(wd[valid]))
    p50, p95 = np.percentile(op[talk], [50, 95])
    w5, w95 = np.percentile(wd[talk], [5, 95])
    return PersonRange(float(p50), float(max(p95, 1e-3)), rest_open, rest_width, float(w95 - w5))


def fit_person(cal: Calibration, analysis: AudioAnalysis | None = None, *, phones: bool = True
               ) -> PersonModel | None:
    """Fit the person model, or None when the calibration has no usable measured frames.

    ``analysis``: ``own_analysis`` of the calibration audio computed ahead (used when it covers
    exactly the calibration frames)."""
    cal = _trimmed(cal)
    n = int(cal.shapes.opening.size)
    if n < 10 or not cal.fps > 0:
        return None
    an = analysis if analysis is not None and analysis.frame_count == n \
        else analyse(cal.audio, cal.sr, cal.fps, n, phones=phones)
    rng = person_range(cal, an.speech)
    if rng is None:
        return None
    valid = np.asarray(cal.shapes.valid, bool) & np.isfinite(cal.shapes.opening) & np.isfinite(cal.shapes.width)
    speech_seconds = float((an.speech & valid).sum() / cal.fps)
    if speech_seconds < MIN_SPEECH_SECONDS:
        log.info("calibration: %.1f s of measured speech, using the prior with the person's range", speech_seconds)
        return PersonModel(None, None, 0.0, 0.0, speech_seconds, rng, (1.0, 0.0), 0.0)
    design = an.design()
    # silence still teaches the model what "closed" sounds like, but speech frames matter most
    w = np.where(an.speech[valid], 1.0, 0.3)
    y_open = cal.shapes.opening[valid].astype(np.float64)
    y_width = cal.shapes.width[valid].astype(np.float64)
    # the person's (and the recording's) audio-to-lips timing: one global shift, chosen by CV. The fits
    # run on two threads (numpy's linear algebra releases the GIL): the plan waits for them with the
    # other core idle, between the video pass and the render pass.
    def fit_lag(lag: int) -> tuple[int, float, float, np.ndarray]:
        return (lag, *cv_ridge(shift_rows(design, lag)[valid], y_open, w))

    with ThreadPoolExecutor(FIT_THREADS) as pool:
        fits = list(pool.map(fit_lag, LAGS))
    # small preference for no shift so that noise alone does not move the timing
    lag, lam_o, r_o, out_of_fold = max(fits, key=lambda f: f[2] - LAG_PENALTY * abs(f[0]))
    x = shift_rows(design, lag)[valid]
    lam_w, r_w, _ = cv_ridge(x, y_width, w)
    open_model = fit_ridge(x, y_open, lam_o, w)
    width_model = fit_ridge(x, y_width, lam_w, w)
    talk = an.speech[valid]
    # in-sample predictions: their spread is what new audio will produce (out-of-fold ones are
    # shrunk more and would make the map exaggerate)
    open_map = _spread_map(open_model.predict(x)[talk], y_open[talk])
    own = mapped_opening(out_of_fold, open_map, rng)
    blend = blend_weight(own, prior_openness(an.features, an.speech, an.phones)[valid] * rng.open_p95, y_open, w)
    log.info("calibration: %.1f s speech, opening r_cv=%.2f (λ=%g), width r_cv=%.2f (λ=%g), blend %.2f",
             speech_seconds, r_o, lam_o, r_w, lam_w, blend)
    return PersonModel(open_model, width_model, r_o, r_w, speech_seconds, rng, open_map, lag / cal.fps, blend)


def mapped_opening(raw: np.ndarray, open_map: tuple[float, float], rng: PersonRange) -> np.ndarray:
    """Ridge output ``raw`` as an opening: shrinkage undone by ``open_map``, kept inside the person's own
    range (a little beyond their p95 is still their mouth)."""
    a, b = open_map
    return np.clip(a * raw + b, 0.0, 1.2 * rng.open_p95)


def blend_weight(own: np.ndarray, prior: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    """The person model's share k in ``k·own + (1-k)·prior`` (opening, in the planner's units) that
    correlates best with the measured ``truth`` on the calibration frames.

    ``own`` must be out-of-fold predictions: in-sample ones would always win. On short clips neither
    predictor dominates: a model fitted on a few seconds of one person and the generic prior err in
    different ways, and a mix often beats both. Ties go to the prior.
    """
    scores = [weighted_r(k * own + (1 - k) * prior, truth, weight) for k in BLEND_WEIGHTS]
    return float(BLEND_WEIGHTS[int(np.argmax(np.round(scores, 6)))])


def own_analysis(audio: np.ndarray, sr: int, fps: float, n_frames: int, *, phones: bool = True) -> AudioAnalysis:
    """The analysis ``fit_person`` needs for a video of ``n_frames`` frames whose own audio is ``audio``."""
    n = min(int(n_frames), int(MAX_SECONDS * fps)) if fps > 0 else int(n_frames)
    audio = np.asarray(audio)
    if fps > 0 and audio.ndim == 1:
        audio = audio[: int(np.ceil(n / fps * sr)) + 1]
    return analyse(audio, sr, fps, n, phones=phones)


def shift_rows(x: np.ndarray, lag: int) -> np.ndarray:
    """Row t of the result is row t - lag of ``x`` (edges held)."""
    if lag == 0:
        return x
    idx = np.clip(np.arange(x.shape[0]) - lag, 0, x.shape[0] - 1)
    return x[idx]


def _trimmed(cal: Calibration) -> Calibration:
    """At most MAX_SECONDS of calibration, with shapes and audio cut consistently."""
    s = cal.shapes
    n = min(s.opening.size, s.width.size, s.valid.size)
    if cal.fps > 0:
        n = min(n, int(MAX_SECONDS * cal.fps))
    shapes = MouthShapes(np.asarray(s.opening[:n], np.float32), np.asarray(s.width[:n], np.float32),
                         np.asarray(s.valid[:n], bool))
    audio = np.asarray(cal.audio)
    if cal.fps > 0 and audio.ndim == 1:
        audio = audio[: int(np.ceil(n / cal.fps * cal.sr)) + 1]
    return Calibration(audio, int(cal.sr), float(cal.fps), shapes)


def _spread_map(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Affine map matching the 10–90 % spread of the predictions to that of the truth (ridge shrinks)."""
    if pred.size < 10:
        return 1.0, 0.0
    p10, p90 = np.percentile(pred, [10, 90])
    t10, t90 = np.percentile(truth, [10, 90])
    if p90 - p10 < 1e-6:
        return 1.0, 0.0
    a = float(np.clip((t90 - t10) / (p90 - p10), 0.5, 2.0))
    return a, float(np.median(truth) - a * np.median(pred))
