"""Reuse of a video's analysis across jobs: the same avatar video with new speech skips the analysis pass.

Lip-sync users send one presenter video many times with different speech (new scripts, dubbing into other
languages). Everything the engine learns from the video alone — the face track, the mouth library, the
occlusion model, the person calibration and the analysis of the video's own speech — depends only on the
video's bytes, the tier and the options that shape the analysis, so a later job on the same video takes it
from here and goes straight to the render pass.

Entries are keyed by a hash of the video's content, the options that affect the analysis and the
engine's own source code (a new engine never reuses an old engine's analysis). One pickle file per entry,
written atomically; the oldest-used entries are removed past the size budget. The directory holds mouth
crops of the processed videos: it is created private (0700), and a directory that another user owns or
that others may write to is not used (entries are unpickled).

``OPENLIPSYNC_ANALYSIS_CACHE``: the directory (default ``$XDG_CACHE_HOME/openlipsync/analysis``), or
``off`` to disable. ``OPENLIPSYNC_ANALYSIS_CACHE_MB``: the budget (default 2048).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from openlipsync.engine.audio.analysis import AudioAnalysis
from openlipsync.engine.library import MouthLibrary
from openlipsync.engine.occlusion import OcclusionModel
from openlipsync.engine.tracking import FaceTrack
from openlipsync.engine.types import Calibration
from openlipsync.media.probe import MediaInfo
from openlipsync.options import LipSyncOptions

log = logging.getLogger("openlipsync.analysis_cache")

FORMAT = 1  # bump when the entry layout changes
DEFAULT_BUDGET_MB = 2048
_OFF = {"off", "0", "false", "no", "none", ""}
_SUFFIX = ".analysis"
STALE_TMP_S = 3600.0  # a half-written entry older than this belongs to a process that died


@dataclass(frozen=True)
class VideoAnalysis:
    """What the engine learnt from the video alone (everything the render pass needs besides the speech)."""

    media: tuple[int, int, float, int]  # width, height, fps, frame count: checked again on load
    track: FaceTrack  # the tier's prepared track
    library: MouthLibrary | None
    occlusion: OcclusionModel | None
    calibration: Calibration | None
    own: AudioAnalysis | None  # the video's own speech, analysed for the person model
    notes: tuple[str, ...]  # what the analysis reported (active speaker choice)


def media_key(info: MediaInfo) -> tuple[int, int, float, int]:
    return (info.width, info.height, round(float(info.fps), 6), info.frame_count)


@functools.cache
def code_fingerprint() -> str:
    """Hash of the sources whose behaviour shapes an analysis (engine, media, pipeline)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted([*root.joinpath("engine").rglob("*.py"), *root.joinpath("media").rglob("*.py"),
                        root / "pipeline.py", Path(__file__).resolve()]):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=20)).hexdigest()


_warned_not_private: set[Path] = set()  # one warning per directory and process, not one per job


class AnalysisCache:
    """A directory of ``VideoAnalysis`` entries with a size budget (``max_bytes``)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = Path(root), max_bytes

    @classmethod
    def from_env(cls) -> AnalysisCache | None:
        """The cache the environment configures, or None when it is turned off."""
        setting = os.environ.get("OPENLIPSYNC_ANALYSIS_CACHE")
        if setting is not None and setting.strip().lower() in _OFF:
            return None
        if setting:
            root = Path(setting).expanduser()
        else:
            root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openlipsync" / "analysis"
        budget = os.environ.get("OPENLIPSYNC_ANALYSIS_CACHE_MB", "").strip()
        return cls(root, (int(budget) if budget.isdigit() else DEFAULT_BUDGET_MB) * 1024 * 1024)

    def key(self, info: MediaInfo, options: LipSyncOptions) -> str:
        """The entry name for ``info``'s video analysed for ``options`` (hashes the file: ~1 s per GB)."""
        digest = hashlib.blake2b(digest_size=20)
        shaping = (FORMAT, code_fingerprint(), _file_digest(info.path), media_key(info), options.model.value,
                   repr(options.active_speaker), options.occlusion_detection)
        digest.update(repr(shaping).encode())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / f"{key}{_SUFFIX}"

    def _private(self) -> bool:
        """Whether the directory is ours alone (entries are unpickled: another user must not plant one)."""
        try:
            st = self.root.stat()
        except FileNotFoundError:
            return False
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            if self.root not in _warned_not_private:
                _warned_not_private.add(self.root)
                log.warning("analysis cache %s is not private to this user (owner or group/other write): "
                            "not used", self.root)
            return False
        return True

    def load(self, key: str, info: MediaInfo) -> VideoAnalysis | None:
        """The entry ``key`` if present and sound (a damaged entry is removed and counts as absent)."""
        path = self._path(key)
        if not self._private():
            return None
        try:
            with open(path, "rb") as fh:
                entry = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a truncated or foreign file: never fail the job for it
            log.warning("analysis cache entry %s unreadable (%s): removed", path.name, exc)
            path.unlink(missing_ok=True)
            return None
        if not isinstance(entry, VideoAnalysis) or entry.media != media_key(info):
            log.warning("analysis cache entry %s does not match the video: removed", path.name)
            path.unlink(missing_ok=True)
            return None
        os.utime(path)  # recently used: evicted last
        return entry

    def store(self, key: str, analysis: VideoAnalysis) -> None:
        """Write the entry (atomically), then trim the directory to the budget. Errors are logged only."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self._private():
                return
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(analysis, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self._path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self.trim()
        except Exception as exc:  # a full or read-only disk costs the next job its shortcut, nothing more
            log.warning("analysis cache: cannot store %s: %s", key, exc)

    def trim(self) -> None:
        """Remove the least recently used entries until the directory fits the budget (and temporary files
        that a killed process left behind)."""
        now = time.time()
        for tmp in self.root.glob(".tmp-*"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > STALE_TMP_S:
                    tmp.unlink()
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last use, bytes, path) of every entry, least recently used first."""
        found = []
        for path in self.root.glob(f"*{_SUFFIX}"):
            try:
                st = path.stat()
            except FileNotFoundError:  # removed by another worker meanwhile
                continue
            found.append((st.st_mtime, st.st_size, path))
        return sorted(found, key=lambda e: e[0])

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        entries = self.entries()
        for _, _, path in entries:
            path.unlink(missing_ok=True)
        return len(entries)
