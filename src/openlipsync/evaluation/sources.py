"""Where the eval and bench inputs come from: the development media next to the repo, and generated media."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("openlipsync.evaluation")

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi"}


def repo_root() -> Path:
    """The checkout this package runs from (src layout: <root>/src/openlipsync/evaluation/sources.py)."""
    return Path(__file__).resolve().parents[3]


def default_media_dir() -> Path | None:
    """``../shared/media`` beside the repository root (or beside the working directory), when present."""
    for base in (repo_root(), Path.cwd()):
        candidate = base.parent / "shared" / "media"
        if candidate.is_dir():
            return candidate
    return None


def videos_in(media_dir: Path) -> list[Path]:
    """Video files in ``media_dir/video`` (the shared-media layout) or directly in ``media_dir``."""
    folder = media_dir / "video" if (media_dir / "video").is_dir() else media_dir
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "openlipsync" / "eval"


def synthetic_talking_clip(cache_dir: Path, *, seconds: float = 10.0, size: int = 360) -> Path:
    """The generated astronaut talking clip (made once per parameter set, then reused)."""
    from openlipsync.evaluation.synthetic import make_talking_clip

    path = cache_dir / f"synthetic_astronaut_{size}p_{seconds:g}s.mp4"
    if not path.is_file():
        log.info("generating %s", path.name)
        tmp = path.with_suffix(".part.mp4")
        make_talking_clip(tmp, seconds=seconds, size=size)
        tmp.replace(path)
    return path
