"""react-1 expression: audio-driven brows and blinks, head motion by model_mode, prompt emotions."""

from __future__ import annotations

import numpy as np
import pytest

from openlipsync.engine import blend, mesh
from openlipsync.engine.expression import (
    _oval,
    expression_targets,
    move_head,
    move_lids,
    plan_expression,
    warp_face,
)
from openlipsync.options import Emotion, ModelMode

FPS = 25.0


def _speech(n: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """10 s: speech bursts with stressed peaks, separated by pauses."""
    t = np.arange(n)
    speech = (t % 60) < 42
    env = np.where(speech, -1.6 + 0.5 * (np.sin(t / 2.3) > 0.6), -4.0)
    return env.astype(np.float64), speech


def test_lips_mode_plans_no_expression() -> None:
    env, speech = _speech()
    p = plan_expression(env, speech, FPS, mode=ModelMode.LIPS, emotion=Emotion.HAPPY)
    assert all(not np.any(a) for a in (p.brow, p.inner, p.knit, p.smile, p.blink, p.head))


def test_face_mode_blinks_and_raises_brows_on_stress_but_keeps_the_head_still() -> None:
    env, speech = _speech()
    p = plan_expression(env, speech, FPS, mode=ModelMode.FACE)
    starts = np.flatnonzero((p.blink[1:] >= 0.9) & (p.blink[:-1] < 0.9)) + 1
    assert 2 <= len(starts) <= 6  # ~15 a minute over 10 s
    assert np.diff(starts).min() >= 1.2 * FPS
    assert p.brow[speech].mean() > 2 * max(p.brow[~speech].mean(), 1e-6)  # brows move with the speech
    assert not np.any(p.head)


def test_head_mode_adds_small_head_motion_and_is_deterministic() -> None:
    env, speech = _speech()
    p = plan_expression(env, speech, FPS, mode=ModelMode.HEAD)
    q = plan_expression(env, speech, FPS, mode=ModelMode.HEAD)
    assert np.array_equal(p.head, q.head)
    assert np.abs(p.head).max() > 0.005
    assert np.abs(p.head[:, :2]).max() < 0.08 and np.abs(p.head[:, 2]).max() < 0.05  # small: < 0.08 d, < 3°


@pytest.mark.parametrize(("emotion", "check"), [
    (Emotion.HAPPY, lambda p: p.smile[-1] > 0.02),
    (Emotion.SAD, lambda p: p.smile[-1] < 0 and p.inner[-1] > 0),
    (Emotion.ANGRY, lambda p: p.knit[-1] > 0 and p.brow[-1] < 0),
    (Emotion.SURPRISED, lambda p: p.brow[-1] > 0.04 and p.blink[-1] < 0),
    (Emotion.NEUTRAL, lambda p: p.smile[-1] == 0 and p.knit[-1] == 0),
])
def test_prompt_emotions_set_their_facial_actions(emotion: Emotion, check) -> None:
    env = np.full(50, -4.0)
    p = plan_expression(env, np.zeros(50, bool), FPS, mode=ModelMode.FACE, emotion=emotion)
    assert check(p)


def test_closed_lids_cover_the_iris(astronaut: np.ndarray, astronaut_landmarks: np.ndarray) -> None:
    lm = astronaut_landmarks
    iris = lm[468].astype(int)  # one iris centre
    patch = (slice(iris[1] - 2, iris[1] + 3), slice(iris[0] - 2, iris[0] + 3))
    shut = move_lids(astronaut, lm, 1.0)
    assert shut[patch].mean() > astronaut[patch].mean() + 25  # dark iris replaced by lid skin
    d = float(mesh.interocular(lm))
    changed = np.any(shut != astronaut, -1)
    ys = np.flatnonzero(changed.any(1))
    assert ys.min() > lm[105, 1] - 0.3 * d and ys.max() < lm[145, 1] + 0.3 * d  # only around the eyes


def test_brow_lift_moves_the_brows_up_inside_the_face(astronaut: np.ndarray, astronaut_landmarks: np.ndarray
                                                      ) -> None:
    lm = astronaut_landmarks
    out = warp_face(astronaut, lm, expression_targets(lm, 0.08, 0.0, 0.0, 0.0))
    import cv2

    x, y = (int(round(v)) for v in lm[105])
    patch = astronaut[y - 4:y + 5, x - 8:x + 9]
    search = out[y - 12:y + 13, x - 8:x + 9]
    scores = cv2.matchTemplate(search, patch, cv2.TM_SQDIFF)[:, 0]
    moved_up = 8 - int(np.argmin(scores))
    assert moved_up >= 2  # the brow texture sits ~0.08 d (≈3 px here) higher
    face = blend.polygon_mask(_oval(lm, 1.12), astronaut.shape[:2]) > 0
    assert not np.any(np.any(out != astronaut, -1) & ~face)


def test_head_motion_fades_out_before_the_background(astronaut: np.ndarray, astronaut_landmarks: np.ndarray
                                                     ) -> None:
    lm = astronaut_landmarks
    out = move_head(astronaut, lm, 0.04, 0.03, 0.02)
    d = float(mesh.interocular(lm))
    head = blend.polygon_mask(_oval(lm, 1.35), astronaut.shape[:2])
    import cv2

    near = cv2.dilate(head, np.ones((int(1.3 * d), int(1.3 * d)), np.uint8)) > 0
    changed = np.any(out != astronaut, -1)
    assert changed[head > 0].mean() > 0.3
    assert not changed[~near].any()
