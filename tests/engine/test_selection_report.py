from __future__ import annotations

import numpy as np

from openlipsync.engine import selection
from openlipsync.engine.library import Canon, MouthLibrary
from openlipsync.engine.report import av_offset, build_report
from openlipsync.engine.selection import select_mouths
from openlipsync.engine.types import MouthPlan


def _library(openings: np.ndarray) -> MouthLibrary:
    k = len(openings)
    canon = Canon(np.zeros((18, 2)), 50.0, (0, 0, 100, 72))
    return MouthLibrary(canon, np.arange(k), openings.astype(np.float32), np.full(k, 0.8, np.float32),
                        np.zeros(k, np.float32), np.zeros((k, 3), np.float32), np.zeros((k, 478, 2), np.float32),
                        [np.zeros((72, 100, 3), np.uint8)] * k)


def _plan(opening: np.ndarray, speech: np.ndarray) -> MouthPlan:
    n = len(opening)
    return MouthPlan(25.0, opening.astype(np.float32), np.full(n, 0.8, np.float32), speech,
                     np.zeros(n, np.float32))


def test_viterbi_follows_the_planned_opening_and_rests_closed_in_silence():
    lib = _library(0.2 * (0.5 - 0.5 * np.cos(np.arange(120) / 3.0)))
    t = np.arange(60)
    want = 0.1 + 0.08 * np.sin(t / 4.0)
    speech = np.ones(60, bool)
    speech[40:] = False
    want[40:] = 0.0  # the plan rests closed in silence (audio.dynamics)
    picks = select_mouths(lib, _plan(want, speech), np.zeros((60, 3), np.float32), np.ones(60, bool))
    got = lib.opening[picks]
    assert np.abs(got[:40] - want[:40]).mean() < 0.03
    assert (got[42:] < 0.02).all()
    assert len(set(picks[42:].tolist())) == 1  # silence holds one closed mouth: no motion


def test_viterbi_opens_the_lips_where_the_plan_parts_them_before_the_voice():
    lib = _library(0.2 * (0.5 - 0.5 * np.cos(np.arange(120) / 3.0)))
    want = np.zeros(30)
    want[10:13] = (0.04, 0.08, 0.12)  # the onset ramp: lips parting before the phrase, voice still off
    want[13:] = 0.15
    speech = np.arange(30) >= 13
    picks = select_mouths(lib, _plan(want, speech), np.zeros((30, 3), np.float32), np.ones(30, bool))
    got = lib.opening[picks]
    assert (got[:8] < 0.02).all()
    assert np.abs(got[10:13] - want[10:13]).max() < 0.03  # the ramp is shown, not held closed


def test_viterbi_prefers_runs_of_consecutive_source_frames():
    lib = _library(0.2 * (0.5 - 0.5 * np.cos(np.arange(200) / 3.0)))
    want = lib.opening[50:90].copy()
    picks = select_mouths(lib, _plan(want, np.ones(40, bool)), np.zeros((40, 3), np.float32), np.ones(40, bool))
    consecutive = np.mean(np.diff(lib.src[picks]) == 1)
    assert consecutive > 0.7


def test_the_candidates_per_frame_stay_bounded_on_long_videos(monkeypatch):
    # states carried from frame to frame must not pile up into the whole library (quadratic time)
    sizes = []
    join = selection._join

    def recording_join(lib, prev, cur, speech):
        sizes.append((len(prev), len(cur)))
        return join(lib, prev, cur, speech)

    monkeypatch.setattr(selection, "_join", recording_join)
    rng = np.random.default_rng(1)
    lib = _library(rng.uniform(0, 0.2, 400))
    want = 0.1 + 0.08 * np.sin(np.arange(300) / 4.0)
    picks = select_mouths(lib, _plan(want, np.ones(300, bool)), np.zeros((300, 3), np.float32), np.ones(300, bool))
    assert (picks >= 0).all() and np.abs(lib.opening[picks] - want).mean() < 0.03
    assert max(p for p, _ in sizes) <= selection.BEAM
    assert max(c for _, c in sizes) <= selection.TOP_K + 2 * selection.BEAM


def test_invalid_frames_get_no_pick():
    lib = _library(np.linspace(0, 0.2, 40))
    valid = np.ones(20, bool)
    valid[5:8] = False
    picks = select_mouths(lib, _plan(np.full(20, 0.1), np.ones(20, bool)), np.zeros((20, 3), np.float32), valid)
    assert (picks[5:8] == -1).all() and (picks[valid] >= 0).all()


def test_av_offset_finds_a_known_lag():
    rng = np.random.default_rng(0)
    env = np.convolve(rng.normal(size=300), np.ones(5) / 5, mode="same")
    mouth = np.roll(env, 3)  # mouth 3 frames late
    lag, conf = av_offset(env, mouth, np.ones(300, bool))
    assert lag == 3.0 and conf > 0.5


def test_report_counts_edited_and_passed_frames():
    edited = np.array([True, True, False, False, True])
    rep = build_report(5, edited, ["", "", "no_face", "profile", ""], np.zeros(5), np.zeros(5), 2)
    assert rep.frames_edited == 3 and rep.frames_passed_through == 2
    assert rep.pass_through_reasons == {"no_face": 1, "profile": 1}
    assert rep.av_offset_frames is None
