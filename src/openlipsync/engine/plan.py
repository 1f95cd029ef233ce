"""Mouth plan: driving speech → target mouth shape per output frame (language-independent).

``plan_mouth`` is the single entry point:
1. analyse the audio (features, voice activity, pocketsphinx phone classes);
2. predict a generic opening/width (``audio.prior``) and, when a Calibration is given, a
   person-specific one (``audio.calibrate``), blended by how much the calibration can be trusted;
3. shape it in time (``audio.dynamics``): anticipation, smoothing that keeps p/b/m closures crisp,
   closed rest pose in silence, temperature scaling of the excursions.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

import numpy as np

from openlipsync.engine.audio.analysis import AudioAnalysis, analyse
from openlipsync.engine.audio.calibrate import PersonModel, fit_person
from openlipsync.engine.audio.dynamics import shape_trajectory, temperature_gain
from openlipsync.engine.audio.prior import REST_WIDTH, TYPICAL_OPEN, prior_openness, prior_width
from openlipsync.engine.types import Calibration, MouthPlan

log = logging.getLogger("openlipsync.engine.plan")

# The generic opening is not shifted: its acoustic cue (F1) and the phone segments are measured at the
# articulation itself (a shift of 0.05 s, right for the loudness cue it replaced, lowered the correlation
# with real mouths on every clip but one and made the mouth lead the audio by a frame). The lips' lead
# before a phrase is the talking envelope's onset ramp (``dynamics.ONSET_S``), which opens toward the
# phrase's first syllable.
LEAD_S = 0.0
WIDTH_EXTRA_LEAD_S = 0.09  # rounding is anticipated (coarticulation of o/u/w)
# A closure is not anticipated: the acoustic event (stop gap, nasal murmur, the f/v hiss) exists because
# the lips are shut at that very moment, so the recognised p/b/m or f/v segment is already lip time.
CLOSURE_LEAD_S = 0.0
MAX_LEVEL_GAIN = 2.0  # bound of the speaking-level match (see match_speaking_level)
MAX_SPREAD_GAIN = 2.0  # bound of the stretch of the openings above the speaking level


def plan_mouth(audio: np.ndarray, sr: int, fps: float, n_frames: int, *,
               calibration: Calibration | None = None, temperature: float = 0.5,
               phones: bool = True, analysis: AudioAnalysis | None = None,
               own_analysis: AudioAnalysis | None = None) -> MouthPlan:
    """Target mouth opening/width for ``n_frames`` output frames driven by ``audio`` (sample 0 = frame 0).

    ``audio`` is mono float32 at ``sr`` Hz; frames past its end are silence, audio past the last frame
    is ignored. ``calibration`` (the input video's own speech and measured mouth) personalises timing
    and scale; ``temperature`` 0..1 scales the excursions around the rest shape (0.5 = natural).
    ``phones=False`` skips pocketsphinx (its cost: ≈5 % of the audio duration in CPU time) for the
    fastest tier (no lip closures are marked then). ``analysis``/``own_analysis``: the results of
    ``driving_analysis`` and ``calibrate.own_analysis`` when they were computed ahead (same arguments).
    """
    n = int(n_frames)
    if n <= 0 or not fps > 0:
        empty = np.zeros(max(n, 0), np.float32)
        return MouthPlan(float(fps), empty, empty.copy(), np.zeros(empty.size, bool), empty.copy())
    with _single_threaded_blas():
        an = analysis if analysis is not None and analysis.frame_count == n \
            else driving_analysis(audio, sr, float(fps), n, phones)
        return _plan(an, float(fps), n, calibration, temperature, phones, own_analysis)


def driving_analysis(audio: np.ndarray, sr: int, fps: float, n_frames: int, phones: bool = True) -> AudioAnalysis:
    """The analysis of the driving audio that ``plan_mouth`` plans from."""
    audio = np.asarray(audio)  # dtype kept: integer PCM is scaled in the analysis
    audio = audio[: int(np.ceil(n_frames / fps * sr)) + 1] if audio.ndim == 1 else audio
    return analyse(audio, sr, fps, n_frames, phones=phones)


@functools.cache
def blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries (finding them scans every loaded library:
    ≈ 20 ms, so once per process)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - declared dependency; never fail the plan for it
        return None
    return ThreadpoolController()


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """The matrices here are small (≈150×150): BLAS threads only add overhead, and on a busy
    2-core machine they made the calibration fit 10–50× slower."""
    controller = blas_controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")  # type: ignore[no-any-return]


def _plan(an: AudioAnalysis, fps: float, n: int, calibration: Calibration | None, temperature: float,
          phones: bool, own_analysis: AudioAnalysis | None) -> MouthPlan:
    person = _fit(calibration, phones, own_analysis)

    generic = prior_openness(an.features, an.speech, an.phones)  # 0..1
    width_offset = prior_width(an.phones, n)
    if person is None:
        opening = generic * TYPICAL_OPEN
        width = REST_WIDTH + width_offset
        rest_width, lead_s = REST_WIDTH, LEAD_S
    else:
        rng = person.range
        opening = generic * rng.open_p95
        width = rng.rest_width + width_offset * np.clip(rng.width_spread / 0.15, 0.3, 2.0)
        rest_width, lead_s = rng.rest_width, LEAD_S
        trust = person.trust()
        if trust > 0 and person.opening is not None and person.width is not None:
            x = person.design_for(an.design(), fps)
            own_open = person.predict_opening(x)
            own_width = person.width.predict(x)
            opening = trust * own_open + (1 - trust) * opening
            wt = trust * float(np.clip((person.width_r - 0.05) / 0.35, 0.0, 1.0))
            width = wt * own_width + (1 - wt) * width
            lead_s *= 1 - trust  # the person model carries its own timing (context windows + fitted lag)
        log.debug("plan: calibration trust %.2f (r_cv %.2f, %.1f s speech)", trust, person.opening_r,
                  person.speech_seconds)
    closure = an.phones.closure if an.phones is not None else np.zeros(n, np.float32)
    out = shape_trajectory(opening, width, an.speech, closure, fps=fps, rest_width=rest_width,
                           lead_s=lead_s, temperature=temperature, closure_lead_s=CLOSURE_LEAD_S,
                           width_lead_s=WIDTH_EXTRA_LEAD_S if person is None else 0.0)
    if person is not None:
        gain = temperature_gain(temperature)
        match_speaking_level(out, person.range.open_p50 * gain, 1.2 * person.range.open_p95 * gain,
                             wide=person.range.open_p95 * gain)
    return out


def match_speaking_level(plan: MouthPlan, target_median: float, cap: float, *, wide: float | None = None) -> None:
    """Scale the planned opening (in place) so that its median over speech frames is the person's own,
    and, with ``wide`` (the person's p95 while speaking), stretch the openings above that median so that
    the plan's p95 over speech reaches it.

    Regression toward the mean (ridge, blending with the prior), smoothing and the closures all make
    the predicted opening smaller than the person's real speaking mouth; measured on real clips the
    plan opened 20–70 % less than the speaker's own mouth, and the retrieved mouths then sit in the
    range where lips nearly touch. The same averaging also narrows the spread: the wide vowels of a
    prediction stay well below the speaker's own (the "global variance" that statistical speech
    synthesis restores, Toda et al. 2007). The level and the spread above it are matched; timing and
    the order of the openings are untouched, the gains are bounded so that a poor prediction cannot be
    blown up, only a narrower spread is widened (never the reverse), and silence stays 0.
    """
    talk = plan.speech & np.isfinite(plan.opening)
    if talk.sum() < 5 or not target_median > 0:
        return
    level = float(np.median(plan.opening[talk]))
    if level <= 1e-4:
        return
    g = float(np.clip(target_median / level, 1.0 / MAX_LEVEL_GAIN, MAX_LEVEL_GAIN))
    scaled = plan.opening * g
    mid = level * g
    top = float(np.percentile(scaled[talk], 95))
    if wide is not None and top > mid + 1e-4 and wide > top:
        stretch = min((wide - mid) / (top - mid), MAX_SPREAD_GAIN)
        scaled = np.where(scaled > mid, mid + (scaled - mid) * stretch, scaled)
    plan.opening[:] = np.minimum(scaled, max(cap, float(plan.opening.max()))).astype(np.float32)


def _fit(calibration: Calibration | None, phones: bool, analysis: AudioAnalysis | None) -> PersonModel | None:
    if calibration is None:
        return None
    try:
        return fit_person(calibration, analysis, phones=phones)
    except (ValueError, IndexError, np.linalg.LinAlgError) as exc:  # a bad calibration must not fail the job
        log.warning("calibration ignored: %s", exc)
        return None
