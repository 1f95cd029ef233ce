"""Which library mouth to show on each output frame: unit selection with Viterbi.

As in concatenative speech synthesis (Hunt & Black 1996) and Video Rewrite (Bregler et al. 1997):
a target cost (shape key vs the planned mouth, head pose vs the current frame) plus a join cost
(a jump between non-consecutive source frames costs, continuing a run of consecutive frames is free,
holding one entry is cheap in silence) minimised over the whole sequence.
"""

from __future__ import annotations

import numpy as np

from openlipsync.engine.library import MouthLibrary
from openlipsync.engine.types import MouthPlan

SIGMA_OPEN = 0.025
SIGMA_WIDTH = 0.05
SIGMA_YAW = 0.10
SIGMA_PITCH = 0.06
JUMP_COST = 2.5
HOLD_COST_SPEECH = 0.8
TOP_K = 16
# Paths kept from one frame to the next (best accumulated cost). Without a beam the states carried over
# (each path's entry and its successor) accumulate until every entry is a candidate on every frame.
BEAM = 16


def target_costs(lib: MouthLibrary, plan: MouthPlan, pose: np.ndarray) -> np.ndarray:
    """(n_frames, k) cost of showing each entry on each output frame.

    The wanted opening is the plan's own: it already rests closed in silence, parts the lips over the
    onset ramp before a phrase and closes them for p/b/m and f/v (``audio.dynamics``). Re-gating it here
    (closed wherever the voice is off) picked closed mouths on the ramps that the residual warp then had
    to open, beyond its reach on some runs."""
    c = ((lib.opening[None, :] - plan.opening[:, None]) / SIGMA_OPEN) ** 2
    c += 0.5 * ((lib.width[None, :] - plan.width[:, None]) / SIGMA_WIDTH) ** 2
    c += ((lib.pose[None, :, 0] - pose[:, None, 0]) / SIGMA_YAW) ** 2
    c += ((lib.pose[None, :, 1] - pose[:, None, 1]) / SIGMA_PITCH) ** 2
    # closures must really close: extra weight on opening when a lip closure (p/b/m, f/v) is planned
    c += (plan.closure[:, None] * 2.0) * (lib.opening[None, :] / SIGMA_OPEN) ** 2
    return c.astype(np.float32)


def _join(lib: MouthLibrary, prev: np.ndarray, cur: np.ndarray, speech: bool) -> np.ndarray:
    """(len(prev), len(cur)) join cost."""
    sp, sc = lib.src[prev][:, None], lib.src[cur][None, :]
    cost = np.full((len(prev), len(cur)), JUMP_COST, np.float32)
    cost += 0.3 * ((lib.opening[prev][:, None] - lib.opening[cur][None, :]) / SIGMA_OPEN) ** 2
    cost += 1.5 * np.abs(lib.teeth[prev][:, None] - lib.teeth[cur][None, :])
    cost[sc == sp + 1] = 0.0
    cost[prev[:, None] == cur[None, :]] = HOLD_COST_SPEECH if speech else 0.0
    return cost


def select_mouths(lib: MouthLibrary, plan: MouthPlan, pose: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Library entry index per output frame (-1 where the frame is not edited)."""
    n = plan.frame_count
    picks = np.full(n, -1, np.int64)
    if n == 0 or lib.size == 0:
        return picks
    tc = target_costs(lib, plan, pose)
    succ = np.full(int(lib.src.max(initial=0)) + 2, -1, np.int64)  # source frame -> entry showing it
    succ[lib.src] = np.arange(lib.size)
    cands: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    back: list[np.ndarray] = []
    k = min(TOP_K, lib.size)
    for t in range(n):
        top = np.argpartition(tc[t], k - 1)[:k]
        if not cands or not valid[t] or (t > 0 and not valid[t - 1]):
            cands.append(top)
            scores.append(tc[t, top])
            back.append(np.full(len(top), -1, np.int64))
            continue
        keep = np.argsort(scores[-1], kind="stable")[:BEAM]
        alive = cands[-1][keep]
        nxt = succ[lib.src[alive] + 1]
        # each surviving path may continue its run of source frames or hold its entry
        top = np.unique(np.concatenate([top, nxt[nxt >= 0], alive]))
        tot = scores[-1][keep][:, None] + _join(lib, alive, top, bool(plan.speech[t]))
        arg = tot.argmin(0)
        cands.append(top)
        scores.append(tot[arg, np.arange(len(top))] + tc[t, top])
        back.append(keep[arg])
    i = int(scores[-1].argmin())
    for t in range(n - 1, -1, -1):
        picks[t] = cands[t][i]
        if back[t][i] < 0 and t > 0:
            i = int(scores[t - 1].argmin())
        elif t > 0:
            i = int(back[t][i])
    picks[~valid] = -1
    return picks
