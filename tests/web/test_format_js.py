"""The studio's pure JS helpers, run in the real browser: sync report in words, player time mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from openlipsync.web import mount_studio
from tests.web.conftest import LiveServer, new_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def studio_only() -> Iterator[str]:
    app = FastAPI()
    mount_studio(app)
    with LiveServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def page(browser: Any, studio_only: str) -> Iterator[Any]:
    page_errors: list[str] = []
    page = new_page(browser, page_errors)
    page.goto(studio_only)
    page.wait_for_selector("html[data-ready=true]")
    yield page
    page.context.close()
    assert page_errors == []


def _call(page: Any, module: str, expr: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ const m = await import('./studio/js/{module}'); return {expr}; }}", arg)


def test_sync_report_reads_as_sentences(page: Any) -> None:
    report = {"frames_total": 250, "frames_edited": 240, "frames_passed_through": 10,
              "pass_through_reasons": {"no_face": 10}, "av_offset_frames": 0.4, "av_confidence": 0.8,
              "face_count_max": 1, "notes": []}
    text = _call(page, "format.js", "m.describeSyncReport(arg)", report)
    assert text == ("Edited 240 of 250 frames; 10 frames had no usable face. "
                    "Audio and mouth are aligned within 1 frame (confidence 0.80).")


def test_sync_report_names_unknown_reasons_and_large_offsets(page: Any) -> None:
    report = {"frames_total": 10, "frames_edited": 7, "frames_passed_through": 3,
              "pass_through_reasons": {"face_too_small": 1, "weird_case": 2}, "av_offset_frames": -2.5,
              "av_confidence": 0.3, "face_count_max": 2, "notes": ["scene cut at 2.0 s"]}
    text = _call(page, "format.js", "m.describeSyncReport(arg)", report)
    assert "Edited 7 of 10 frames" in text
    assert "1 frame had a face too small to edit" in text
    assert "2 frames were left unchanged (weird case)" in text
    assert "2.5 frames apart: the mouth leads the audio (confidence 0.30)" in text
    assert "Up to 2 faces were seen" in text
    assert "scene cut at 2.0 s." in text


def test_sync_report_without_measurable_offset(page: Any) -> None:
    text = _call(page, "format.js", "m.describeSyncReport(arg)",
                 {"frames_total": 1, "frames_edited": 1, "av_offset_frames": None, "av_confidence": 0})
    assert text.startswith("Edited 1 of 1 frame.")
    assert "could not be measured" in text


def test_costs_durations_and_stages_are_formatted(page: Any) -> None:
    out = _call(page, "format.js",
                "[m.formatCost(0.25), m.formatCost(null), m.formatCost(0.004), m.formatSeconds(4.04),"
                " m.formatClock(75.4), m.describeStage('render'), m.describeStage('analyse'),"
                " m.describeStage('mouth_retrieval')]")
    assert out == ["$0.25", "—", "$0.0040", "4.0 s", "1:15", "Drawing the mouth", "Finding and tracking the face",
                   "Mouth retrieval"]


@pytest.mark.parametrize(("t", "mode", "expected"), [
    (1.0, "loop", 1.0), (5.0, "loop", 1.0), (3.0, "bounce", 1.0), (5.0, "bounce", 1.0),
    (5.0, "cut_off", 2.0), (5.0, "silence", 2.0), (3.0, "remap", 1.0),
])
def test_original_follows_the_result_by_sync_mode(page: Any, t: float, mode: str, expected: float) -> None:
    # result 6 s long, original 2 s long
    got = _call(page, "player.js", "m.followerTime(arg[0], 6, 2, arg[1])", [t, mode])
    assert got == pytest.approx(expected)


def test_api_error_bodies_become_message_and_code(page: Any) -> None:
    out = _call(page, "api.js", "[m.parseErrorBody(422, {error: {code: 'generation_no_face', message: 'no face'}}),"
                " m.parseErrorBody(400, {detail: [{loc: ['body', 'model'], msg: 'field required'}]}),"
                " m.parseErrorBody(400, {message: ['a', 'b'], error: 'Bad Request', statusCode: 400}),"
                " m.parseErrorBody(500, null)]")
    assert out[0]["message"] == "no face" and out[0]["code"] == "generation_no_face"
    assert out[1]["message"] == "model: field required"
    assert out[2]["message"] == "a; b"
    assert out[3]["message"] == "Server error"


def test_engine_key_value_notes_read_as_words(page: Any) -> None:
    text = _call(page, "format.js", "m.describeSyncReport(arg)",
                 {"frames_total": 2, "frames_edited": 2, "av_offset_frames": 0, "av_confidence": 0.5,
                  "notes": ["renderer=warp", "model=lipsync-1.9", "Mouth texture from 12 frames"]})
    assert text.endswith("Mouth texture from 12 frames. Engine: renderer warp, model lipsync-1.9.")


def test_elapsed_time_reads_as_running_or_took(page: Any) -> None:
    out = _call(page, "job.js",
                "[m.elapsedText({created_at: '2026-01-01T00:00:00.000Z'}, 'processing',"
                " Date.parse('2026-01-01T00:00:12Z')),"
                " m.elapsedText({created_at: '2026-01-01T00:00:00.000Z', completed_at: '2026-01-01T00:02:05.000Z'},"
                " 'completed'),"
                " m.elapsedText({created_at: null}, 'pending')]")
    assert out == ["· 12 s since submitted", "· took 2 min 5 s", ""]
