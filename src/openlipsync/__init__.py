"""openlipsync: self-hosted, CPU-only lip-sync video generation."""

from openlipsync.errors import InputError, LipSyncError, MediaError, NoFaceError
from openlipsync.lipsync import lipsync
from openlipsync.options import (
    ActiveSpeaker,
    LipSyncOptions,
    LipSyncResult,
    Model,
    Segment,
    SyncMode,
    SyncReport,
)

__version__ = "0.1.0"

__all__ = [
    "ActiveSpeaker",
    "InputError",
    "LipSyncError",
    "LipSyncOptions",
    "LipSyncResult",
    "MediaError",
    "Model",
    "NoFaceError",
    "Segment",
    "SyncMode",
    "SyncReport",
    "lipsync",
]
