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
CHUNK_S = 30.0  # longest piece sent to the decoder at once (bounded memory and latency)

# Visemic targets per ARPAbet phone: (opening in inter-ocular units, width offset, closure).
# Opening values sit inside the range measured on real speakers (speech p50 ≈ 0.06–0.15, p95 ≈ 0.2–0.3).
# Closures are the phones made with the lips shut: bilabials (p/b/m, lips together) and labiodentals
# (f/v, the lower lip against the upper teeth), whose inner-lip gap is about zero either way.
PHONE_TARGETS: dict[str, tuple[float, float, float]] = {
    "AA": (0.26, 0.00, 0), "AE": (0.23, 0.04, 0), "AH": (0.19, 0.00, 0), "AO": (0.21, -0.07, 0),
    "AW": (0.22, -0.04, 0), "AY": (0.22, 0.02, 0), "EH": (0.17, 0.03, 0), "ER": (0.10, -0.05, 0),
    "EY": (0.14, 0.04, 0), "IH": (0.11, 0.05, 0), "IY": (0.07, 0.07, 0), "OW": (0.16, -0.10, 0),
    "OY": (0.16, -0.08, 0), "UH": (0.09, -0.10, 0), "UW": (0.06, -0.14, 0), "W": (0.04, -0.14, 0),
    "Y": (0.05, 0.04, 0), "P": (0.0, 0.0, 1), "B": (0.0, 0.0, 1), "M": (0.0, 0.0, 1),
    "F": (0.0, 0.0, 1), "V": (0.0, 0.0, 1), "TH": (0.06, 0.02, 0), "DH": (0.06, 0.02, 0),
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
    closure:  (n,) float32 fraction of the frame covered by a lip-closing phone (p/b/m, f/v), 0..1
    classes:  (n, len(CLASS_NAMES)) float32 fraction of the frame covered by each broad class
    phones:   list of (phone, start_s, end_s) as recognised
    """

    opening: np.ndarray
    width: np.ndarray
    closure: np.ndarray
    classes: np.ndarray
    phones: list[tuple[str, float, float]]


_local = threading.local()
# beam 1e-13 decodes ~20 % faster than 1e-20 with the same phones on real speech; 1e-10 loses the path.
# ds 2 (acoustic scores on every other 10 ms frame; phone boundaries stay on the 10 ms grid) and topn 2
# (two Gaussians per codebook instead of four) cut the decoding CPU by ≈ 38 %; about a quarter of the
# phone frames change, but the mouth plans from them follow real mouths as well as before (docs/BENCH.md,
# session 13). ds 3 does not: the plans lost ≈ 0.1 of correlation.


def _decoder():  # noqa: ANN202 - pocketsphinx types are untyped
    """One allphone decoder per thread (construction costs 0.1–0.6 s; decoders are not thread-safe)."""
    dec = getattr(_local, "decoder", None)
    if dec is None:
        from pocketsphinx import Decoder, get_model_path

        model = get_model_path()
        # batch CMN: each region is normalised on its own, so results do not depend on the channel
        # or on what was decoded before
        dec = Decoder(hmm=os.path.join(model, "en-us", "en-us"),
                      allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
                      lw=2.0, beam=1e-13, pbeam=1e-13, ds=2, topn=2, cmn="batch", loglevel="FATAL")
        _local.decoder = dec
        _local.cmn_init = dec.get_cmn()
    return dec


def warm_up() -> None:
    """Build this thread's decoder ahead of the first job (processes forked from this thread inherit it)."""
    try:
        _decoder()
    except Exception as exc:  # a missing or broken pocketsphinx is reported when a job needs it
        log.warning("phone recogniser unavailable: %s", exc)


def speech_regions(speech: np.ndarray, fps: float, n_samples: int) -> list[tuple[int, int]]:
    """Sample ranges worth decoding: voice-active frames padded by 0.25 s, gaps < 0.6 s merged,
    split into pieces of at most CHUNK_S (silence is never sent to the recogniser)."""
    pad, min_gap = int(0.25 * ANALYSIS_SR), int(0.6 * ANALYSIS_SR)
    idx = np.flatnonzero(np.asarray(speech, bool))
    if idx.size == 0:
        return []
    starts = [idx[0]] + [b for a, b in zip(idx[:-1], idx[1:], strict=True) if b > a + 1]
    ends = [a + 1 for a, b in zip(idx[:-1], idx[1:], strict=True) if b > a + 1] + [idx[-1] + 1]
    regions: list[list[int]] = []
    for a, b in zip(starts, ends, strict=True):
        lo = max(0, int(a / fps * ANALYSIS_SR) - pad)
        hi = min(n_samples, int(b / fps * ANALYSIS_SR) + pad)
        if regions and lo - regions[-1][1] < min_gap:
            regions[-1][1] = hi
        else:
            regions.append([lo, hi])
    step = int(CHUNK_S * ANALYSIS_SR)
    out: list[tuple[int, int]] = []
    for lo, hi in regions:
        pieces = max(1, int(np.ceil((hi - lo) / step)))
        edges = np.linspace(lo, hi, pieces + 1).astype(int)
        out.extend((int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True))
    return out


def recognise_phones(x16k: np.ndarray, regions: list[tuple[int, int]] | None = None
                     ) -> list[tuple[str, float, float]] | None:
    """ARPAbet phones with (start, end) seconds, or None when pocketsphinx is unavailable or fails.

    ``regions`` (sample ranges, see ``speech_regions``) limits decoding to speech; default: everything
    in CHUNK_S pieces.
    """
    if regions is None:
        step = int(CHUNK_S * ANALYSIS_SR)
        regions = [(a, min(a + step, x16k.size)) for a in range(0, x16k.size, step)]
    regions = [(a, b) for a, b in regions if b - a >= ANALYSIS_SR // 10]
    try:
        out: list[tuple[str, float, float]] = []
        if not regions:
            return out
        dec = _decoder()
        for a, b in regions:
            pcm = (np.clip(x16k[a:b], -1, 1) * 32767).astype("<i2").tobytes()
            dec.reinit_feat()  # forget the previous utterance: same audio in, same phones out
            dec.set_cmn(_local.cmn_init)
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
