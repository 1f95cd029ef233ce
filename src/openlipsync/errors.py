"""One exception tree for the whole project.

Every error carries a machine ``code`` (the Sync v2 ``error_code`` vocabulary where one exists) and a
CLI ``exit_code``. The API maps them to HTTP once (``api/errors.py``); the engine and jobs never raise
HTTP exceptions.
"""

from __future__ import annotations


class LipSyncError(Exception):
    """Base class of every error openlipsync raises on purpose."""

    code: str = "generation_unhandled_error"
    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InputError(LipSyncError):
    """The caller's input is unusable (missing, wrong type, out of limits)."""

    code = "generation_input_validation_failed"
    exit_code = 2
    http_status = 400


class MissingInputError(InputError):
    code = "generation_input_missing"


class UnreadableMediaError(InputError):
    """ffprobe/ffmpeg cannot read the file: corrupt, truncated, empty or not media at all."""

    code = "generation_media_unreadable"


class NoVideoStreamError(InputError):
    code = "generation_video_missing"


class NoAudioStreamError(InputError):
    code = "generation_audio_missing"


class MediaMetadataError(InputError):
    """Duration or frame rate cannot be determined."""

    code = "generation_media_metadata_missing"


class InputLimitError(InputError):
    """An input exceeds a configured limit (size, duration, resolution, frames, streams)."""

    code = "generation_input_limit_exceeded"
    http_status = 413


class NoFaceError(InputError):
    """No usable face anywhere in the visual input."""

    code = "generation_no_face"
    exit_code = 3
    http_status = 422


class MediaError(LipSyncError):
    """An ffmpeg/ffprobe subprocess failed on input that had passed validation."""

    code = "generation_pipeline_failed"
    exit_code = 4

    def __init__(self, message: str, *, stderr: str = "", code: str | None = None) -> None:
        tail = stderr.strip().splitlines()[-5:]
        super().__init__(message + (": " + " | ".join(tail) if tail else ""), code=code)
        self.stderr = stderr


class EngineError(LipSyncError):
    code = "generation_pipeline_failed"
    exit_code = 4


class CancelledError(LipSyncError):
    code = "generation_canceled"
    exit_code = 130
    http_status = 409


class JobTimeoutError(LipSyncError):
    code = "generation_timeout"
    exit_code = 5


class NotFoundError(LipSyncError):
    code = "not_found"
    http_status = 404


class ConfigError(LipSyncError):
    code = "config_invalid"
    exit_code = 6


# --- security / reliability (issue 9): precise input codes, URL fetching, limits per key -------------


class WrongTypeError(InputError):
    """The bytes are not the kind of media expected (text, HTML, PDF, archive, executable...)."""

    code = "generation_input_wrong_type"
    http_status = 415


class PolyglotInputError(InputError):
    """A file that is valid media *and* another format (zip, HTML, PDF, script) at the same time."""

    code = "generation_input_polyglot"
    http_status = 415


class TruncatedMediaError(UnreadableMediaError):
    """The header promises more data than the file holds."""

    code = "generation_media_truncated"


class MediaHeaderError(InputError):
    """Header claims that cannot be true for a file this size (e.g. 10 hours in 40 KB)."""

    code = "generation_media_header_inconsistent"
    http_status = 422


class UrlFetchError(InputError):
    """An input URL was refused or could not be fetched safely."""

    code = "generation_input_url_unreachable"


class UrlForbiddenError(UrlFetchError):
    """The URL's scheme, port or address is not allowed (SSRF protection)."""

    code = "generation_input_url_forbidden"


class RateLimitedError(LipSyncError):
    """Too many requests or concurrent jobs for this API key; retry after ``retry_after`` seconds."""

    code = "rate_limit_exceeded"
    http_status = 429
    exit_code = 7

    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(-(-retry_after // 1)))  # whole seconds, rounded up, at least 1


class QuotaExceededError(LipSyncError):
    """The tenant's stored-bytes quota would be exceeded."""

    code = "quota_exceeded"
    http_status = 403
    exit_code = 7
