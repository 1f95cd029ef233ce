"""Every bad input in the corpus gets its precise error quickly; ordinary inputs pass every check."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlipsync.errors import InputError, InputLimitError
from openlipsync.media.probe import MediaInfo
from openlipsync.security.limits import (
    InputLimits,
    inspect_audio,
    inspect_media,
    inspect_visual,
    reject_non_media,
    sniff_non_media,
    validate_visual,
)
from tests.security.corpus import cases, good_cases, run_case

CASES = cases()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_its_precise_error(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exc = run_case(case, tmp_path)
    assert exc is not None, f"{case.name} was accepted"
    assert type(exc) is case.error, f"{case.name}: {type(exc).__name__}: {exc}"
    assert exc.code == case.code, f"{case.name}: {exc}"
    assert isinstance(exc, InputError) and 400 <= exc.http_status < 500


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name,kind,make", good_cases(), ids=[g[0] for g in good_cases()])
def test_ordinary_input_passes(name: str, kind: str, make, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path / name)
    info = (inspect_visual if kind == "visual" else inspect_audio)(path)
    assert info.size_bytes == path.stat().st_size
    assert inspect_media(path) == info


def test_case_names_and_codes_are_unique_and_cover_every_required_kind() -> None:
    assert len({c.name for c in CASES}) == len(CASES)
    codes = {c.code for c in CASES}
    for required in ("generation_input_empty", "generation_media_truncated", "generation_input_wrong_type",
                     "generation_input_polyglot", "generation_audio_missing", "generation_video_missing",
                     "generation_media_header_inconsistent", "generation_input_decompression_bomb",
                     "generation_input_resolution_exceeded"):
        assert required in codes


def _info(**kw: object) -> MediaInfo:
    base: dict[str, object] = dict(path=Path("x.mp4"), format_name="mov,mp4", duration=10.0, size_bytes=10**6,
                                   has_video=True, has_audio=True, is_image=False, width=640, height=480,
                                   fps=25.0, frame_count=250, stream_count=2, audio_sample_rate=16000)
    base.update(kw)
    return MediaInfo(**base)  # type: ignore[arg-type]


def test_validate_visual_is_pure_and_uses_configured_limits() -> None:
    validate_visual(_info(), InputLimits())
    with pytest.raises(InputLimitError) as err:
        validate_visual(_info(width=1920, height=1080), InputLimits(max_width=1280))
    assert err.value.code == "generation_input_resolution_exceeded"
    with pytest.raises(InputLimitError) as err:
        validate_visual(_info(width=4000, height=4000, size_bytes=10**8), InputLimits())
    assert err.value.code == "generation_input_too_many_pixels"  # big but not a bomb (ratio < 1000)


def test_limits_come_from_settings_like_objects() -> None:
    class S:
        max_upload_bytes = 5000
        input_max_duration_seconds = 12.5
        input_max_streams = 3

    limits = InputLimits.from_settings(S())
    assert (limits.max_file_bytes, limits.max_duration_seconds, limits.max_streams) == (5000, 12.5, 3)
    assert limits.max_width == InputLimits().max_width


@pytest.mark.parametrize("head", [b"\x00\x00\x00\x20ftypisom", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"ID3\x03\x00",
                                  b"OggS\x00\x02", b"fLaC\x00\x00\x00\x22", b"\x89PNG\r\n\x1a\n",
                                  b"\xff\xd8\xff\xe0", b"\x1a\x45\xdf\xa3", b"\xff\xfb\x90\x64"])
def test_media_magic_is_not_mistaken_for_another_type(head: bytes) -> None:
    assert sniff_non_media(head + bytes(range(256))) is None
    reject_non_media(head)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_declared_image_size_matches_the_encoder(ext: str) -> None:
    import cv2
    import numpy as np

    from openlipsync.security.limits import declared_image_size

    ok, buf = cv2.imencode(ext, np.zeros((37, 91, 3), np.uint8))
    assert ok and declared_image_size(buf.tobytes()) == (91, 37)


def test_xmp_metadata_in_an_image_is_not_a_polyglot(tmp_path: Path) -> None:
    import struct
    import zlib

    from tests.security.corpus import _png

    xmp = (b'<?xml version="1.0"?><?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
           b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><svg xmlns="http://www.w3.org/2000/svg"/>'
           b'</rdf:RDF></x:xmpmeta>')
    data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    path = tmp_path / "xmp.png"
    path.write_bytes(_png(64, 64, chunk))
    assert inspect_visual(path).width == 64


@pytest.mark.parametrize("fmt,has_video,codec,expected", [
    ("mov,mp4,m4a,3gp,3g2,mj2", True, "h264", "video/mp4"), ("mov,mp4,m4a,3gp,3g2,mj2", False, None, "audio/mp4"),
    ("matroska,webm", True, "vp8", "video/x-matroska"), ("wav", False, None, "audio/wav"),
    ("png_pipe", True, "png", "image/png"), ("image2", True, "mjpeg", "image/jpeg"),
    ("image2", True, "something", "application/octet-stream"), ("html", False, None, "application/octet-stream"),
])
def test_content_type_comes_from_the_probed_format(fmt: str, has_video: bool, codec: str | None,
                                                   expected: str) -> None:
    from openlipsync.security.limits import content_type_for

    assert content_type_for(fmt, has_video=has_video, codec=codec) == expected
