"""The studio end to end in headless chromium against the real embedded server (API + worker + studio).

Screenshots of the main states are written to ``$OPENLIPSYNC_ARTIFACTS/screenshots`` (default
``./artifacts/screenshots``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import factories
from tests.web.conftest import LiveServer, new_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class Studio:
    url: str
    key: str
    platform: Any

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path.lstrip("/"), timeout=30,
                             headers={"Authorization": f"Bearer {self.key}"}, **kwargs)


def _embedded_settings(data_dir: Path, secret: str) -> Any:
    """The embedded configuration, explicitly: the environment's DATABASE_URL etc. must not leak in."""
    from openlipsync.config import Settings

    return Settings(data_dir=data_dir, secret_key=secret, database_url=f"sqlite:///{data_dir / 'openlipsync.db'}",
                    queue_url=f"sqlite:///{data_dir / 'queue'}", storage_url=f"file://{data_dir / 'files'}")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """``openlipsync serve`` in-process: embedded SQLite, local queue and files, one worker thread."""
    from openlipsync.api import create_app
    from openlipsync.jobs.tenants import create_key

    settings = _embedded_settings(tmp_path_factory.mktemp("studio-data"), "s" * 32)
    app = create_app(settings, embedded_worker=True, worker_concurrency=1)
    platform = app.state.platform
    key = create_key(platform.db, "studio-test", "browser test").key
    with LiveServer(app) as server:
        yield Studio(server.url, key, platform)
    platform.close()


@pytest.fixture(scope="module")
def short_media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 1 s astronaut clip and ~2.5 s of espeak speech: the result loops the clip (keeps the run short)."""
    folder = tmp_path_factory.mktemp("studio-media")
    video = factories.make_face_video(folder / "face.mp4", seconds=1.0)
    speech = factories.make_speech(folder / "speech.wav", text="Peter bought a big blue boat.")
    return video, speech


@pytest.fixture()
def page(browser: Any, studio: Studio, page_errors: list[str]) -> Iterator[Any]:
    page = new_page(browser, page_errors, viewport=DESKTOP)
    yield page
    page.context.close()


def _open_with_key(page: Any, studio: Studio) -> None:
    page.goto(studio.url)
    page.wait_for_selector("html[data-ready=true]")
    page.fill("#api-key", studio.key)
    page.click("#key-save")
    page.wait_for_selector("#key-status.ok")


def _video_state(page: Any, selector: str) -> dict[str, float]:
    return page.eval_on_selector(selector, "v => ({ready: v.readyState, duration: v.duration, "
                                           "time: v.currentTime, width: v.videoWidth, paused: v.paused})")


def _record_progress(page: Any) -> None:
    """Collect every text the live progress line shows (the page is never reloaded)."""
    page.evaluate("""() => {
        window.__stages = [];
        const el = document.getElementById('job-stage');
        new MutationObserver(() => window.__stages.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")


def test_full_flow_upload_estimate_progress_compare_history(page: Any, studio: Studio,
                                                           short_media: tuple[Path, Path], artifacts_dir: Path,
                                                           page_errors: list[str]) -> None:
    face_video, speech_wav = short_media
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.on("response", lambda res: refused.append(res.url) if res.status == 429 else None)
    _open_with_key(page, studio)
    page.set_input_files("#visual-file", str(face_video))
    page.wait_for_selector("#visual-status.ok")
    page.set_input_files("#audio-file", str(speech_wav))
    page.wait_for_selector("#audio-status.ok")
    assert "Uploaded face.mp4" in page.text_content("#visual-status")

    # The estimate shown before submitting is the API's own figure for these inputs.
    page.wait_for_function("() => document.getElementById('estimate-cost').textContent.startsWith('$')")
    shown_cost = page.text_content("#estimate-cost")
    assets = studio.api("GET", "v1/assets").json()["data"]
    by_name = {a["name"]: a["id"] for a in assets}
    est = studio.api("POST", "v1/generations/estimate", json={
        "model": "lipsync-2", "video": {"asset_id": by_name["face.mp4"]},
        "audio": {"asset_id": by_name["speech.wav"]}}).json()
    assert shown_cost == f"${est['cost']:.2f}"
    assert f"{est['frame_count']} frames" in page.text_content("#estimate-detail")
    page.screenshot(path=str(artifacts_dir / "01-ready-to-generate.png"), full_page=True)

    _record_progress(page)
    page.click("#submit")
    page.wait_for_selector("#job-body:not([hidden])")
    page.wait_for_selector("#job-status.processing, #job-status.completed", timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "02-in-progress.png"), full_page=True)
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)

    stages = page.evaluate("window.__stages")
    assert stages, "the progress line never changed without a reload"
    percents = [int(m.group(1)) for s in stages if (m := re.search(r"(\d+)%", s))]
    assert percents or any("queue" in s for s in stages)
    assert all(0 <= p <= 100 for p in percents)

    # Both videos are loaded and play together from one control.
    page.wait_for_function("() => document.getElementById('result-video').readyState >= 2 && "
                           "document.getElementById('orig-video').readyState >= 2")
    result0, orig0 = _video_state(page, "#result-video"), _video_state(page, "#orig-video")
    assert result0["width"] == 320 and orig0["width"] == 320
    assert result0["duration"] > 1.8  # the speech is longer than the clip; loop mode follows the audio
    assert orig0["duration"] == pytest.approx(1.0, abs=0.1)
    page.click("#play-toggle")
    page.wait_for_function("() => document.getElementById('result-video').currentTime > 0.5")
    r1, o1 = page.evaluate("() => [document.getElementById('result-video'), document.getElementById('orig-video')]"
                           ".map(v => ({time: v.currentTime, duration: v.duration, paused: v.paused}))")
    assert not r1["paused"]
    # The original follows the result's clock, looping its 1 s (circular distance on the clip's timeline).
    lag = abs(r1["time"] % o1["duration"] - o1["time"])
    assert min(lag, o1["duration"] - lag) < 0.3, (r1, o1)
    page.click("#play-toggle")
    assert _video_state(page, "#result-video")["paused"]

    # Seeking with the shared slider moves both (the original loops: 1.5 s → 0.5 s of the 1 s clip).
    page.eval_on_selector("#seek", "s => { s.value = '1.5'; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => Math.abs(document.getElementById('orig-video').currentTime - 0.5) < 0.1")
    assert _video_state(page, "#result-video")["time"] == pytest.approx(1.5, abs=0.05)
    # Frame stepping moves both by one frame (25 fps): to the middle of frame 38 = 1.54 s (original 0.54 s).
    page.click("#frame-next")
    page.wait_for_function("() => Math.abs(document.getElementById('orig-video').currentTime - 0.54) < 0.01")
    assert _video_state(page, "#result-video")["time"] == pytest.approx(1.54, abs=0.005)
    page.select_option("#speed", "0.5")
    assert page.eval_on_selector("#result-video", "v => v.playbackRate") == 0.5

    report = page.text_content("#sync-report")
    assert re.search(r"Edited \d+ of \d+ frames", report)
    href = page.get_attribute("#download", "href")
    assert "/v1/generations/" in href and "/video?" in href
    assert httpx.get(href, headers={"Range": "bytes=0-99"}, timeout=30).status_code == 206

    # History shows the job with status, model, duration, cost and a thumbnail from the output video.
    item = page.wait_for_selector("#history-list li[data-status=completed]")
    text = item.text_content()
    assert "lipsync-2" in text and "$" in text and " s" in text
    gen_id = item.get_attribute("data-id")
    gen = studio.api("GET", f"v1/generations/{gen_id}").json()
    assert gen["status"] == "completed"
    assert f"${gen['cost']:.2f}" in text
    page.wait_for_function("(id) => { const v = document.querySelector(`li[data-id='${id}'] .thumb video`);"
                           " return v && v.readyState >= 1 && v.videoWidth > 0; }", arg=gen_id)
    page.screenshot(path=str(artifacts_dir / "03-result-side-by-side.png"), full_page=True)
    assert page_errors == []
    # Works offline: every request went to the studio's own origin (or to local blob: URLs).
    foreign = [u for u in requested if not u.startswith((studio.url, "blob:", "data:"))]
    assert requested and foreign == []
    assert refused == []  # the page stays within the server's rate limits


def test_corrupt_upload_shows_a_readable_error(page: Any, studio: Studio, corrupt_video: Path,
                                               artifacts_dir: Path) -> None:
    _open_with_key(page, studio)
    page.set_input_files("#visual-file", str(corrupt_video))
    status = page.wait_for_selector("#visual-status.bad")
    text = status.text_content()
    assert text.startswith("corrupt.mp4: ")
    assert re.search(r"\[generation_[a-z_]+\]", text), text
    assert page.get_attribute("#visual-file", "aria-invalid") == "true"
    assert page.is_disabled("#submit")
    page.screenshot(path=str(artifacts_dir / "04-error-corrupt-upload.png"), full_page=True)


def test_a_refused_submission_shows_the_api_message_and_code(page: Any, studio: Studio,
                                                            short_media: tuple[Path, Path]) -> None:
    _open_with_key(page, studio)
    page.set_input_files("#visual-file", str(short_media[0]))
    page.set_input_files("#audio-file", str(short_media[1]))
    page.wait_for_function("() => !document.getElementById('submit').disabled")
    page.route("**/v1/generations", lambda route: route.fulfill(
        status=429, content_type="application/json",
        body='{"error": {"code": "active_jobs_limit_exceeded", "message": "too many active jobs", "status": 429}}')
        if route.request.method == "POST" else route.continue_())
    page.click("#submit")
    box = page.wait_for_selector("#form-error:not([hidden])")
    page.wait_for_timeout(600)  # the estimate that follows must not wipe the error
    assert page.is_visible("#form-error")
    assert box.text_content() == "too many active jobs active_jobs_limit_exceeded"
    assert page.get_attribute("#form-error", "role") == "alert"


def test_failed_job_shows_the_error_and_its_code(page: Any, studio: Studio, noface_video: Path,
                                                  short_media: tuple[Path, Path], artifacts_dir: Path) -> None:
    """A decodable video with no face anywhere: accepted, then the job fails with a readable reason."""
    _open_with_key(page, studio)
    page.set_input_files("#visual-file", str(noface_video))
    page.set_input_files("#audio-file", str(short_media[1]))
    page.wait_for_selector("#visual-status.ok")
    page.wait_for_selector("#audio-status.ok")
    page.select_option("#model", "lipsync-1.9")
    page.wait_for_function("() => !document.getElementById('submit').disabled")
    page.click("#submit")
    page.wait_for_selector("#job-status.failed", timeout=120_000)
    error = page.text_content("#job-error")
    assert "face" in error.lower() and "generation_no_face" in error
    assert page.get_attribute("#job-error", "role") == "alert"
    assert page.is_hidden("#result") and page.is_hidden("#job-cancel")
    row = page.wait_for_selector("#history-list li.current[data-status=failed]")
    assert "face" in row.text_content().lower()
    page.screenshot(path=str(artifacts_dir / "09-failed-no-face.png"), full_page=True)


def test_a_wrong_key_is_reported_and_nothing_is_loaded(page: Any, studio: Studio) -> None:
    page.goto(studio.url)
    page.fill("#api-key", "ols_not-a-real-key")
    page.click("#key-save")
    status = page.wait_for_selector("#key-status.bad")
    assert status.text_content() == ("The API key is missing or not valid: save a key at the top of the page "
                                     "(unauthorized)")
    assert page.text_content("#history-list") == ""


def _completed_job(studio: Studio, media: tuple[Path, Path]) -> str:
    """A completed generation of this tenant (made through the API, multipart upload, if none exists yet)."""
    done = studio.api("GET", "v1/generations", params={"status": "completed", "limit": 1}).json()["data"]
    if done:
        return str(done[0]["id"])
    video, audio = media
    with video.open("rb") as v, audio.open("rb") as a:
        gen = studio.api("POST", "v1/generations", data={"model": "lipsync-1.9"},
                         files={"video": (video.name, v, "video/mp4"), "audio": (audio.name, a, "audio/wav")})
    assert gen.status_code == 201, gen.text
    deadline = time.monotonic() + 120
    while (state := studio.api("GET", f"v1/generations/{gen.json()['id']}").json())["status"] != "completed":
        assert state["status"] in ("pending", "processing") and time.monotonic() < deadline, state
        time.sleep(0.5)
    return str(state["id"])


def test_phone_viewport_stacks_the_result_without_horizontal_scroll(browser: Any, studio: Studio,
                                                                    short_media: tuple[Path, Path],
                                                                    artifacts_dir: Path,
                                                                    page_errors: list[str]) -> None:
    gen_id = _completed_job(studio, short_media)
    page = new_page(browser, page_errors, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        _open_with_key(page, studio)
        page.wait_for_selector(f"#history-list li[data-id='{gen_id}']")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(artifacts_dir / "05-phone-form.png"), full_page=True)
        page.click(f"#history-list li[data-id='{gen_id}'] >> text=Open")
        page.wait_for_selector("#result:not([hidden])")
        page.wait_for_function("() => document.getElementById('result-video').readyState >= 2 && "
                               "document.getElementById('orig-video').readyState >= 2")
        # Still side by side on a phone, both fully on screen, shaped like the video (square here).
        orig = page.eval_on_selector("#orig-video", "v => v.getBoundingClientRect().toJSON()")
        result = page.eval_on_selector("#result-video", "v => v.getBoundingClientRect().toJSON()")
        assert orig["right"] <= result["left"] and result["right"] <= PHONE["width"]
        assert result["width"] > 140 and result["height"] == pytest.approx(result["width"], abs=2)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.eval_on_selector("#job", "el => el.scrollIntoView()")
        page.screenshot(path=str(artifacts_dir / "05-phone-result.png"))
        assert page_errors == []
    finally:
        page.context.close()


def test_photo_with_typed_text_then_delete_from_history(page: Any, studio: Studio, face_image: Path,
                                                         artifacts_dir: Path, page_errors: list[str]) -> None:
    """A photo and text spoken offline: the estimate uses the synthesised speech; the original is the photo."""
    _open_with_key(page, studio)
    page.set_input_files("#visual-file", str(face_image))
    page.wait_for_selector("#visual-status.ok")
    assert page.is_visible("#visual-preview-image")
    page.check("input[name=speech][value=text]")
    assert page.is_visible("#speech-script") and not page.is_visible("#audio-file")
    page.fill("#speech-script", "Hello from a photo.")
    page.select_option("#speech-voice", "en-us")
    page.select_option("#model", "lipsync-1.9")
    page.click("details.more summary")
    page.fill("#output-name", "astronaut_hello")
    assert "Fastest" in page.text_content("#model-help")
    page.wait_for_function("() => document.getElementById('estimate-detail').textContent.includes('lipsync-1.9')")
    assert page.text_content("#estimate-cost").startswith("$")
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.is_visible("#orig-image") and not page.is_visible("#orig-video")
    page.wait_for_function("() => document.getElementById('result-video').readyState >= 2")
    assert _video_state(page, "#result-video")["duration"] > 0.5
    gen_id = page.get_attribute("#history-list li.current", "data-id")
    assert page.get_attribute("#download", "download") == "astronaut_hello.mp4"
    assert "Hello from a photo" in page.text_content("#history-list li.current .history-title")
    page.screenshot(path=str(artifacts_dir / "06-photo-and-text-result.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#history-list li[data-id='{gen_id}'] button.danger")
    page.wait_for_selector(f"#history-list li[data-id='{gen_id}']", state="detached")
    assert page.is_hidden("#job-body")  # the deleted job is no longer shown
    assert page.text_content("#history-message").startswith("Deleted face.png")
    assert studio.api("GET", f"v1/generations/{gen_id}").status_code == 404
    assert page_errors == []


@pytest.fixture(scope="module")
def idle_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """The API and studio without a worker: jobs stay queued, so cancelling is deterministic."""
    from openlipsync.api import create_app
    from openlipsync.jobs.tenants import create_key

    settings = _embedded_settings(tmp_path_factory.mktemp("idle-data"), "i" * 32)
    app = create_app(settings, embedded_worker=False)
    key = create_key(app.state.platform.db, "idle-test", "browser test").key
    with LiveServer(app) as server:
        yield Studio(server.url, key, app.state.platform)
    app.state.platform.close()


def test_queued_job_shows_waiting_state_and_can_be_cancelled(browser: Any, idle_studio: Studio,
                                                             short_media: tuple[Path, Path], artifacts_dir: Path,
                                                             page_errors: list[str]) -> None:
    page = new_page(browser, page_errors, viewport=DESKTOP)
    try:
        face_video, speech_wav = short_media
        _open_with_key(page, idle_studio)
        page.set_input_files("#visual-file", str(face_video))
        page.set_input_files("#audio-file", str(speech_wav))
        page.wait_for_selector("#visual-status.ok")
        page.wait_for_selector("#audio-status.ok")
        page.wait_for_function("() => !document.getElementById('submit').disabled")
        page.click("#submit")
        page.wait_for_selector("#job-status.pending")
        assert "queue" in page.text_content("#job-stage").lower()
        assert page.get_attribute("#job-progress", "value") is None  # indeterminate while queued
        page.wait_for_selector("#history-list li[data-status=pending] >> text=Cancel")
        page.screenshot(path=str(artifacts_dir / "07-queued.png"), full_page=True)

        # A 429 while polling: the page says so, waits Retry-After, then carries on.
        def too_many(route: Any) -> None:
            route.fulfill(status=429, headers={"Retry-After": "1"}, content_type="application/json",
                          body='{"error": {"code": "rate_limit_exceeded", "message": "slow down", "status": 429}}')

        page.route("**/v1/generations/*-*", too_many)
        page.wait_for_function("() => document.getElementById('job-stage').textContent.includes('slow down')")
        page.unroute("**/v1/generations/*-*", too_many)
        page.wait_for_function("() => document.getElementById('job-stage').textContent.includes('queue')")
        page_errors[:] = [e for e in page_errors if "status of 429" not in e]  # chromium logs the refusal

        page.click("#job-cancel")
        page.wait_for_selector("#job-status.canceled")
        error = page.text_content("#job-error")
        assert "generation_canceled" in error or "cancel" in error.lower()
        page.wait_for_selector("#history-list li[data-status=canceled]")
        gen_id = page.get_attribute("#history-list li[data-status=canceled]", "data-id")
        gen = idle_studio.api("GET", f"v1/generations/{gen_id}").json()
        assert gen["status"] == "failed" and gen["state"] == "canceled" and gen["cost"] == 0
        page.screenshot(path=str(artifacts_dir / "08-cancelled.png"), full_page=True)
        assert page_errors == []
    finally:
        page.context.close()


def test_keyboard_every_control_is_labelled_and_focus_is_visible(page: Any, studio: Studio) -> None:
    _open_with_key(page, studio)
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby') && !(el.textContent || '').trim())
        .map(el => el.id || el.outerHTML.slice(0, 60))""")
    assert unlabeled == []
    # Tab from the top of a fresh load (the key is remembered): skip link first, then the key field.
    page.reload()
    page.wait_for_selector("#key-status.ok")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "api-key"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    # The form can be completed from the keyboard: Tab reaches the file inputs and the model select.
    order = []
    for _ in range(20):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order.index("visual-file") < order.index("audio-file") < order.index("model")
    assert page.get_attribute("#job-stage", "aria-live") == "polite"


def test_picking_the_speaker_on_the_preview_fills_video_pixel_coordinates(page: Any, studio: Studio,
                                                                          short_media: tuple[Path, Path]) -> None:
    _open_with_key(page, studio)
    page.set_input_files("#visual-file", str(short_media[0]))
    page.set_input_files("#audio-file", str(short_media[1]))
    page.wait_for_selector("#visual-status.ok")
    page.select_option("#speaker-mode", "point")
    assert page.is_visible("#speaker-point")
    page.wait_for_function("() => document.getElementById('visual-preview-video').videoWidth > 0")
    box = page.eval_on_selector("#visual-preview-video", "v => v.getBoundingClientRect().toJSON()")
    # The 320×320 video is letterboxed (object-fit: contain) in a wider box: click a quarter in from the
    # left of the picture and halfway down.
    scale = min(box["width"], box["height"]) / 320
    left = box["x"] + (box["width"] - 320 * scale) / 2
    page.mouse.click(left + 80 * scale, box["y"] + box["height"] / 2)
    assert int(page.input_value("#speaker-x")) == pytest.approx(80, abs=2)
    assert int(page.input_value("#speaker-y")) == pytest.approx(160, abs=2)
    assert page.input_value("#speaker-frame") == "0"
    # The server accepts the chosen speaker: the estimate comes back for these options.
    page.wait_for_function("() => document.getElementById('estimate-cost').textContent.startsWith('$')")


def test_a_key_in_the_link_fragment_is_stored_and_removed_from_the_address(page: Any, studio: Studio) -> None:
    """`openlipsync serve` prints http://host:port/#key=…; the fragment never reaches the server."""
    page.goto(f"{studio.url}#key={studio.key}")
    page.wait_for_selector("#key-status.ok")
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("localStorage.getItem('openlipsync.apiKey')") == studio.key
    assert page.input_value("#api-key") == studio.key
