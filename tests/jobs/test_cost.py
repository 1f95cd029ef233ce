"""Pricing: per-model price per second, billed per 25-fps frame, on the output length sync_mode gives."""

from __future__ import annotations

import pytest

from openlipsync.config import DEFAULT_PRICES, Settings
from openlipsync.jobs.cost import billed_frames, estimate, price
from openlipsync.options import SyncMode

VIDEO = {"frame_count": 50, "fps": 25.0, "is_image": False}  # 2 s


@pytest.mark.parametrize("mode, audio, seconds", [
    (SyncMode.LOOP, 3.0, 3.0), (SyncMode.BOUNCE, 3.0, 3.0), (SyncMode.REMAP, 3.0, 3.0),
    (SyncMode.CUT_OFF, 3.0, 2.0), (SyncMode.CUT_OFF, 1.0, 1.0),
    (SyncMode.SILENCE, 3.0, 3.0), (SyncMode.SILENCE, 1.0, 2.0),
])
def test_output_length_follows_sync_mode(mode: SyncMode, audio: float, seconds: float) -> None:
    est = estimate(VIDEO, audio, mode, 0.05)
    assert est.duration_seconds == pytest.approx(seconds)
    assert est.billed_frames == round(seconds * 25)
    assert est.cost == pytest.approx(round(seconds * 25) * 0.05 / 25)


def test_partial_frames_are_billed_as_whole_frames() -> None:
    assert billed_frames(1.0) == 25 and billed_frames(1.001) == 26 and billed_frames(0.0) == 0
    assert price(10.0, 0.083) == pytest.approx(0.83)


def test_images_follow_the_audio_at_25_fps() -> None:
    est = estimate({"frame_count": 1, "fps": 0, "is_image": True}, 1.5, SyncMode.CUT_OFF, 0.133)
    assert est.fps == 25.0 and est.frame_count == 38 and est.billed_frames == 38


def test_prices_default_to_the_spec_and_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_PRICES["lipsync-2"] == 0.05 and DEFAULT_PRICES["lipsync-2-pro"] == 0.083
    assert DEFAULT_PRICES["sync-3"] == 0.133
    monkeypatch.setenv("OPENLIPSYNC_PRICES_PER_SECOND", '{"lipsync-2": 0.02}')
    s = Settings()
    assert s.price_per_second("lipsync-2") == 0.02 and s.price_per_second("sync-3") == 0.133
