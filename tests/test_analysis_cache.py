"""The analysis cache: a repeated video skips the analysis pass and renders the very same output."""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from openlipsync import pipeline
from openlipsync.analysis_cache import AnalysisCache, VideoAnalysis, media_key
from openlipsync.engine.tracking import FaceTrack
from openlipsync.lipsync import lipsync
from openlipsync.media import probe
from openlipsync.options import LipSyncOptions, Model, SyncMode
from tests.engine.conftest import astronaut, astronaut_landmarks, talking_video  # noqa: F401 (fixtures)
from tests.engine.features import capture_frames


def _analysis(info, frames: int = 4, notes: tuple[str, ...] = ()) -> VideoAnalysis:
    track = FaceTrack(25.0, 64, 64, np.zeros((frames, 478, 2), np.float32), np.ones(frames, bool),
                      np.array([""] * frames, object), np.zeros((frames, 3), np.float32), np.zeros(frames, bool),
                      np.ones(frames, np.int16))
    return VideoAnalysis(media_key(info), track, None, None, None, None, notes)


@pytest.fixture
def clip(tmp_path: Path, talking_video: Path):  # noqa: F811
    """A private copy of the talking clip (the cache key hashes its bytes)."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(talking_video.read_bytes())
    return probe(path)


def test_the_environment_chooses_the_directory_and_budget_or_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE", "off")
    assert AnalysisCache.from_env() is None
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE_MB", "5")
    cache = AnalysisCache.from_env()
    assert cache is not None and cache.root == tmp_path / "c" and cache.max_bytes == 5 * 1024 * 1024
    monkeypatch.delenv("OPENLIPSYNC_ANALYSIS_CACHE")
    monkeypatch.delenv("OPENLIPSYNC_ANALYSIS_CACHE_MB")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = AnalysisCache.from_env()
    assert cache is not None and cache.root == tmp_path / "xdg" / "openlipsync" / "analysis"
    assert cache.max_bytes == 2048 * 1024 * 1024


def test_the_key_follows_the_video_bytes_and_the_options_that_shape_the_analysis(clip, tmp_path):
    cache = AnalysisCache(tmp_path / "c", 1 << 30)
    base = cache.key(clip, LipSyncOptions())
    assert cache.key(clip, LipSyncOptions(temperature=0.9, sync_mode=SyncMode.BOUNCE)) == base  # plan/timeline only
    assert cache.key(clip, LipSyncOptions(model=Model.LIPSYNC_1_9)) != base
    assert cache.key(clip, LipSyncOptions(occlusion_detection=True)) != base
    with open(clip.path, "ab") as fh:  # one byte more: another video
        fh.write(b"\0")
    assert cache.key(clip, LipSyncOptions()) != base


def test_an_entry_round_trips_and_a_damaged_or_mismatched_one_is_removed(clip, tmp_path):
    cache = AnalysisCache(tmp_path / "c", 1 << 30)
    cache.store("k", _analysis(clip, notes=("speaker: left",)))
    assert oct((tmp_path / "c").stat().st_mode & 0o777) == "0o700"
    loaded = cache.load("k", clip)
    assert loaded is not None and loaded.notes == ("speaker: left",) and loaded.track.frame_count == 4
    assert cache.load("absent", clip) is None

    entry = tmp_path / "c" / "k.analysis"
    entry.write_bytes(entry.read_bytes()[:50])  # truncated by a crash or a full disk
    assert cache.load("k", clip) is None and not entry.exists()

    other = _analysis(clip)
    entry.write_bytes(pickle.dumps(VideoAnalysis((1, 1, 1.0, 1), *list(vars(other).values())[1:])))
    assert cache.load("k", clip) is None and not entry.exists()  # made from a different video


def test_the_least_recently_used_entries_go_past_the_budget(clip, tmp_path):
    cache = AnalysisCache(tmp_path / "c", 1 << 30)
    for name in ("a", "b", "c"):
        cache.store(name, _analysis(clip, frames=50))
    size = (tmp_path / "c" / "a.analysis").stat().st_size
    past = time.time() - 100
    for age, name in enumerate(("b", "a", "c")):  # b is the oldest, then a
        os.utime(tmp_path / "c" / f"{name}.analysis", (past + age, past + age))
    assert cache.load("a", clip) is not None  # using an entry makes it the newest
    stale = tmp_path / "c" / ".tmp-dead"
    stale.write_bytes(b"x")
    os.utime(stale, (past - 7200, past - 7200))
    cache.max_bytes = int(2.5 * size)
    cache.trim()
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["a.analysis", "c.analysis"]


def test_a_directory_others_may_write_to_is_not_used(clip, tmp_path, caplog):
    cache = AnalysisCache(tmp_path / "c", 1 << 30)
    cache.store("k", _analysis(clip))
    (tmp_path / "c").chmod(0o777)  # anybody could plant a pickle here
    assert cache.load("k", clip) is None
    cache.store("k2", _analysis(clip))
    assert not (tmp_path / "c" / "k2.analysis").exists()
    assert caplog.text.count("not private") == 1  # said once, not on every load and store
    (tmp_path / "c").chmod(0o700)
    assert cache.load("k", clip) is not None


def test_a_store_that_cannot_write_is_only_logged(clip, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    AnalysisCache(blocker / "c", 1 << 30).store("k", _analysis(clip))
    assert "cannot store" in caplog.text


def test_a_repeated_video_reuses_its_analysis_and_gives_the_same_output(clip, speech_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLIPSYNC_ANALYSIS_CACHE", str(tmp_path / "cache"))
    opts = LipSyncOptions(model=Model.LIPSYNC_2, sync_mode=SyncMode.CUT_OFF)
    with capture_frames(monkeypatch) as first_frames:
        first = lipsync(clip.path, speech_wav, tmp_path / "1.mp4", opts)
    assert "track" in first.stage_seconds
    (entry,) = (tmp_path / "cache").glob("*.analysis")
    saved = pickle.loads(entry.read_bytes())
    # everything the render needs besides the speech: the person model's inputs included
    assert saved.library is not None and saved.calibration is not None and saved.own is not None

    def no_analysis(*args, **kwargs):
        raise AssertionError("the analysis pass ran again")

    monkeypatch.setattr(pipeline, "analyse", no_analysis)
    decodes = []
    real_decode = pipeline.iter_yuv_frames

    def counting(info, start_frame=0):
        decodes.append(start_frame)
        return real_decode(info, start_frame=start_frame)

    monkeypatch.setattr(pipeline, "iter_yuv_frames", counting)
    with capture_frames(monkeypatch) as second_frames:
        second = lipsync(clip.path, speech_wav, tmp_path / "2.mp4", opts)
    assert "track" not in second.stage_seconds
    assert decodes == [0]  # decoded once, into the spill, while the new speech was analysed
    assert second.report.notes == (*first.report.notes, "analysis reused from the cache")
    assert replace(second.report, notes=first.report.notes) == first.report
    assert "renderer=retrieval" in second.report.notes
    assert np.array_equal(np.stack(first_frames), np.stack(second_frames))

    # another tier analyses the video for itself
    with pytest.raises(AssertionError, match="analysis pass ran again"):
        lipsync(clip.path, speech_wav, tmp_path / "3.mp4", LipSyncOptions(model=Model.LIPSYNC_1_9))
