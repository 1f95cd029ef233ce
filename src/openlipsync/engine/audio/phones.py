"""Phone classes from pocketsphinx allphone recognition, used as language-independent visemic cues.

The en-us acoustic model that ships in the pocketsphinx wheel is used as a generic phone-class
recogniser: for other languages the exact phones are often wrong, but the broad classes (silence,
bilabial closure, rounded / open / close vowel, fricative) and their timing carry over. If
pocketsphinx is missing or fails, callers get ``None`` and fall back to acoustics alone.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import numpy as np

from openlipsync.engine.audio.features import ANALYSIS_SR, fine_to_frames

log = logging.getLogger("openlipsync.engine.audio")

PHONE_RATE = 100  # pocketsphinx frames per second
CHUNK_S = 30.0  # decode long audio in chunks cut at quiet points (bounded memory and latency)

# Visemic targets per ARPAbet phone: (opening in inter-ocular units, width offset, closure).
# Opening values sit inside the range measured on real speakers (speech p50 ≈ 0.06–0.15, p95 ≈ 0.2–0.3).
PHONE_TARGETS: dict[str, tuple[float, float, float]] = {
    "AA": (0.26, 0.00, 0), "AE": (0.23, 0.04, 0), "AH": (0.19, 0.00, 0), "AO": (0.21, -0.07, 0),
    "AW": (0.22, -0.04, 0), "AY": (0.22, 0.02, 0), "EH": (0.17, 0.03, 0), "ER": (0.10, -0.05, 0),
    "EY": (0.14, 0.04, 0), "IH": (0.11, 0.05, 0), "IY": (0.07, 0.07, 0), "OW": (0.16, -0.10, 0),
    "OY": (0.16, -0.08, 0), "UH": (0.09, -0.10, 0), "UW": (0.06, -0.14, 0), "W": (0.04, -0.14, 0),
    "Y": (0.05, 0.04, 0), "P": (0.0, 0.0, 1), "B": (0.0, 0.0, 1), "M": (0.0, 0.0, 1),
    "F": (0.03, 0.0, 0), "V": (0.03, 0.0, 0), "TH": (0.06, 0.02, 0), "DH": (0.06, 0.02, 0),
    "S": (0.04, 0.03, 0), "Z": (0.04, 0.03, 0), "SH": (0.05, -0.06, 0), "ZH": (0.05, -0.06, 0),
    "CH": (0.05, -0.06, 0), "JH": (0.05, -0.06, 0), "T": (0.08, 0.02, 0), "D": (0.08, 0.02, 0),
    "N": (0.08, 0.02, 0), "L": (0.09, 0.01, 0), "R": (0.07, -0.05, 0), "K": (0.09, 0.0, 0),
    "G": (0.09, 0.0, 0), "NG": (0.08, 0.0, 0), "HH": (0.12, 0.0, 0), "SIL": (0.0, 0.0, 0),
}

# Broad classes used as features: one column each.
CLASSES: dict[str, frozenset[str]] = {
    "silence": frozenset({"SIL"}),
    "bilabial": frozenset({"P", "B", "M"}),
    "labiodental": frozenset({"F", "V"}),
    "open_vowel": frozenset({"AA", "AE", "AH", "AW", "AY"}),
    "mid_vowel": frozenset({"EH", "EY", "ER", "HH"}),
    "close_vowel": frozenset({"IY", "IH", "Y"}),
    "rounded": frozenset({"UW", "UH", "OW", "OY", "AO", "W"}),
    "sibilant": frozenset({"S", "Z", "SH", "ZH", "CH", "JH", "TH", "DH"}),
    "other_consonant": frozenset({"T", "D", "N", "L", "R", "K", "G", "NG"}),
}
CLASS_NAMES = tuple(CLASSES)


@dataclass(frozen=True)
class PhoneTrack:
    """Phone-derived cues per video frame (n rows).

    opening:  (n,) float32 visemic opening target (generic scale)
    width:    (n,) float32 width offset target (negative = rounded)
    closure:  (n,) float32 fraction of the frame covered by a bilabial phone, 0..1
    classes:  (n, len(CLASS_NAMES)) float32 fraction of the frame covered by each broad class
    phones:   list of (phone, start_s, end_s) as recognised
    """

    opening: np.ndarray
    width: np.ndarray
    closure: np.ndarray
    classes: np.ndarray
    phones: list[tuple[str, float, float]]


_local = threading.local()


def _decoder():  # noqa: ANN202 - pocketsphinx types are untyped
    """One allphone decoder per thread (construction costs ~0.1 s; decoders are not thread-safe)."""
    dec = getattr(_local, "decoder", None)
    if dec is None:
        from pocketsphinx import Decoder, get_model_path

        model = get_model_path()
        dec = Decoder(hmm=os.path.join(model, "en-us", "en-us"),
                      allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
                      lw=2.0, beam=1e-20, pbeam=1e-20, loglevel="FATAL")
        _local.decoder = dec
    return dec


def _chunks(x: np.ndarray) -> list[tuple[int, int]]:
    """Cut points near every CHUNK_S seconds, moved to the quietest 10 ms within ±3 s."""
    n = x.size
    step = int(CHUNK_S * ANALYSIS_SR)
    if n <= step * 1.2:
        return [(0, n)]
    cuts = [0]
    hop = ANALYSIS_SR // 100
    while n - cuts[-1] > step * 1.2:
        lo, hi = cuts[-1] + step - 3 * ANALYSIS_SR, cuts[-1] + step + 3 * ANALYSIS_SR
        seg = x[lo:hi][: ((hi - lo) // hop) * hop].reshape(-1, hop)
        cuts.append(lo + int(np.argmin((seg**2).mean(axis=1))) * hop)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def recognise_phones(x16k: np.ndarray) -> list[tuple[str, float, float]] | None:
    """ARPAbet phones with (start, end) seconds, or None when pocketsphinx is unavailable or fails."""
    if x16k.size < ANALYSIS_SR // 10:
        return []
    try:
        dec = _decoder()
        out: list[tuple[str, float, float]] = []
        for a, b in _chunks(x16k):
            pcm = (np.clip(x16k[a:b], -1, 1) * 32767).astype("<i2").tobytes()
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            off = a / ANALYSIS_SR
            for seg in dec.seg():
                name = seg.word.strip("+").upper()
                if name not in PHONE_TARGETS:  # fillers (+NSN+, +SPN+ …) read as silence
                    name = "SIL"
                out.append((name, off + seg.start_frame / PHONE_RATE, off + (seg.end_frame + 1) / PHONE_RATE))
        return out
    except Exception as exc:  # pocketsphinx raises plain RuntimeErrors; never fail the plan for it
        log.warning("phone recognition failed, using acoustics only: %s", exc)
        _local.decoder = None
        return None


def phone_track(phones: list[tuple[str, float, float]], fps: float, n_frames: int) -> PhoneTrack:
    """Rasterise recognised phones onto video frames."""
    k = max(1, int(np.ceil(n_frames / fps * PHONE_RATE)) + 1)
    fine = np.zeros((k, 3 + len(CLASS_NAMES)), np.float64)
    fine[:, 3 + CLASS_NAMES.index("silence")] = 1.0  # uncovered time is silence
    for name, start, end in phones:
        a, b = int(round(start * PHONE_RATE)), int(round(end * PHONE_RATE))
        a, b = max(a, 0), min(max(b, a + 1), k)
        if a >= k:
            continue
        op, wd, cl = PHONE_TARGETS[name]
        row = np.zeros(3 + len(CLASS_NAMES))
        row[:3] = (op, wd, cl)
        for j, cname in enumerate(CLASS_NAMES):
            if name in CLASSES[cname]:
                row[3 + j] = 1.0
        fine[a:b] = row
    # fine_to_frames expects the 10 ms analysis grid, which is the pocketsphinx grid too
    per = fine_to_frames(fine, fps, n_frames)
    return PhoneTrack(per[:, 0].astype(np.float32), per[:, 1].astype(np.float32),
                      per[:, 2].astype(np.float32), per[:, 3:].astype(np.float32), list(phones))
