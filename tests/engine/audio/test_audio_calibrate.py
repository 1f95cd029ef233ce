"""Person model: fitted on the video's own audio + measured mouth."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from tests.engine.audio.fixtures import SR, frames_for

from openlipsync.engine.audio import calibrate
from openlipsync.engine.audio.calibrate import blend_weight, fit_person, shift_rows
from openlipsync.engine.audio.features import frame_features
from openlipsync.engine.types import Calibration, MouthShapes


def _calibration(audio: np.ndarray, lag: int, fps: float = 25.0) -> Calibration:
    n = frames_for(audio, fps)
    e = frame_features(audio, SR, fps, n).energy
    opening = gaussian_filter1d(0.3 * np.clip((e + 45.0) / 30.0, 0, 1), 1.0)
    opening = shift_rows(opening[:, None], lag)[:, 0]  # the mouth follows the sound by ``lag`` frames
    return Calibration(audio, SR, fps, MouthShapes(opening.astype(np.float32),
                                                   np.full(n, 0.8, np.float32), np.ones(n, bool)))


def test_person_model_learns_skill_range_and_timing(speech_audio):
    m = fit_person(_calibration(speech_audio, lag=2))
    assert m is not None and m.opening is not None
    assert m.opening_r > 0.7 and m.trust() > 0.9
    assert abs(m.lag_s - 2 / 25) < 1.5 / 25
    assert 0.2 < m.range.open_p95 < 0.35
    assert abs(m.range.rest_width - 0.8) < 1e-6


def test_the_timing_fits_on_threads_give_the_serial_result(speech_audio, monkeypatch):
    cal = _calibration(speech_audio, lag=-1)
    threaded = fit_person(cal)
    monkeypatch.setattr(calibrate, "FIT_THREADS", 1)
    serial = fit_person(cal)
    assert threaded is not None and serial is not None and serial.opening is not None
    assert threaded.lag_s == serial.lag_s and threaded.opening_r == serial.opening_r
    assert np.array_equal(threaded.opening.coef, serial.opening.coef)


def test_blend_weight_follows_whichever_predictor_tracks_the_truth():
    rng = np.random.default_rng(1)
    truth = gaussian_filter1d(rng.normal(size=400), 2.0)
    noise = gaussian_filter1d(rng.normal(size=400), 2.0)
    w = np.ones(400)
    assert blend_weight(truth, noise, truth, w) == 1.0
    assert blend_weight(noise, truth, truth, w) == 0.0
    # two predictors of equal skill with independent errors: their average beats either
    other = gaussian_filter1d(rng.normal(size=400), 2.0)
    assert blend_weight(truth + noise, truth + other, truth, w) == 0.5
    # no skill at all: a tie, which goes to the prior
    assert blend_weight(np.zeros(400), np.zeros(400), truth, w) == 0.0


def test_shift_rows():
    x = np.arange(5)[:, None]
    assert shift_rows(x, 2)[:, 0].tolist() == [0, 0, 0, 1, 2]
    assert shift_rows(x, -1)[:, 0].tolist() == [1, 2, 3, 4, 4]


def test_unusable_calibrations_give_no_model(speech_audio):
    cal = _calibration(speech_audio, lag=0)
    s = cal.shapes
    assert fit_person(Calibration(cal.audio, SR, 25.0, MouthShapes(s.opening, s.width, np.zeros_like(s.valid)))) is None
    assert fit_person(Calibration(cal.audio, SR, 0.0, s)) is None
    quiet = fit_person(Calibration(np.zeros_like(cal.audio), SR, 25.0, s), phones=False)
    assert quiet is not None and quiet.opening is None and quiet.trust() == 0.0
