"""pocketsphinx allphone → phone classes per frame, and graceful fallback."""

from __future__ import annotations

import numpy as np
from tests.engine.audio.fixtures import SR, frames_for

from openlipsync.engine.audio import phones as ph
from openlipsync.engine.audio.analysis import analyse


def test_recognises_phones_with_bilabials(bilabial_audio):
    found = ph.recognise_phones(bilabial_audio)
    assert found is not None and len(found) > 10
    names = [p for p, _, _ in found]
    assert set(names) <= set(ph.PHONE_TARGETS)
    assert {"P", "B", "M"} & set(names)
    starts = [s for _, s, _ in found]
    assert starts == sorted(starts)
    assert all(0 <= s < e <= len(bilabial_audio) / SR + 0.05 for _, s, e in found)


def test_phone_track_rasterises_onto_frames():
    # frame i at 10 fps covers [i/10 - 0.05, i/10 + 0.05)
    phones = [("SIL", 0.0, 0.15), ("M", 0.15, 0.25), ("AA", 0.25, 0.55), ("UW", 0.55, 0.75), ("F", 0.75, 0.85)]
    t = ph.phone_track(phones, 10.0, 10)
    assert t.opening.shape == t.width.shape == t.closure.shape == (10,)
    assert t.classes.shape == (10, len(ph.CLASS_NAMES))
    assert t.closure[2] == 1.0 and t.closure[4] == 0.0
    assert t.closure[8] == 1.0 and t.opening[8] == 0.0  # f/v: the lower lip against the upper teeth
    assert t.opening[4] > 0.2  # AA is open
    assert t.width[7] < -0.1  # UW is rounded
    np.testing.assert_allclose(t.classes.sum(axis=1), 1.0, atol=1e-6)
    assert t.classes[9, ph.CLASS_NAMES.index("silence")] == 1.0  # after the last phone


def test_speech_regions_skip_silence():
    speech = np.zeros(100, bool)
    speech[20:30] = True
    speech[33:40] = True  # gap of 0.12 s: merged
    speech[80:90] = True
    regions = ph.speech_regions(speech, 25.0, 4 * SR)
    assert len(regions) == 2
    (a0, b0), (a1, b1) = regions
    assert a0 < 20 / 25 * SR and b0 > 40 / 25 * SR and a1 < 80 / 25 * SR <= b1
    assert ph.speech_regions(np.zeros(10, bool), 25.0, SR) == []


def test_failure_falls_back_to_acoustics(speech_audio, monkeypatch):
    def broken():
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(ph, "_decoder", broken)
    assert ph.recognise_phones(speech_audio) is None
    an = analyse(speech_audio, SR, 25.0, frames_for(speech_audio))
    assert an.phones is None and an.speech.any()
    assert an.design().shape[0] == an.frame_count


def test_a_warmed_up_decoder_is_inherited_by_forked_jobs(bilabial_audio):
    from openlipsync.forked import Forked

    ph.warm_up()
    built = ph._local.decoder
    assert built is not None
    # the audio analysis runs in a process forked from the warmed thread: it reuses the decoder, and a
    # reused decoder gives the same phones as a fresh one
    assert Forked(lambda: ph._decoder() is built).result()
    reused = ph.recognise_phones(bilabial_audio)
    ph._local.decoder = None
    assert ph.recognise_phones(bilabial_audio) == reused


def test_warm_up_survives_a_broken_recogniser(monkeypatch, caplog):
    def broken():
        raise RuntimeError("no acoustic model")

    monkeypatch.setattr(ph, "_decoder", broken)
    ph.warm_up()
    assert "phone recogniser unavailable" in caplog.text
