"""End-to-end engine runs on generated media: frames, fidelity outside the mouth, speech vs silence."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from openlipsync import pipeline
from openlipsync.errors import MediaError, NoFaceError
from openlipsync.lipsync import lipsync
from openlipsync.media import FrameWriter, iter_frames, probe
from openlipsync.media.decode import iter_yuv_frames
from openlipsync.media.yuv import frame_bytes
from openlipsync.options import LipSyncOptions, Model, ModelMode, SyncMode
from tests import factories
from tests.engine.conftest import astronaut, astronaut_landmarks, talking_video  # noqa: F401 (fixtures)

# astronaut_frame(320): the mouth sits around (145, 145); the lower face spans roughly x 95..200, y 110..215
MOUTH_BOX = (slice(125, 170), slice(115, 180))
LOWER_FACE = (slice(95, 235), slice(75, 220))


def _frames(path: Path) -> np.ndarray:
    return np.stack(list(iter_frames(path)))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _measured_opening(frames: np.ndarray) -> np.ndarray:
    from openlipsync.engine import mesh
    from openlipsync.engine.tracking import FaceTracker

    tracker = FaceTracker(25.0, frames.shape[2], frames.shape[1])
    for f in frames:
        tracker.update(f)
    track = tracker.finish()
    assert track.valid.all()
    return mesh.mouth_opening(track.landmarks)


def _outside(frames: np.ndarray) -> np.ndarray:
    keep = np.ones(frames.shape[1:3], bool)
    keep[LOWER_FACE] = False
    return frames[:, keep]


def _run(video: Path, audio: Path, out: Path, model: Model, mode: SyncMode = SyncMode.CUT_OFF):
    return lipsync(video, audio, out, LipSyncOptions(model=model, sync_mode=mode))


@pytest.mark.parametrize("model", [Model.LIPSYNC_1_9, Model.LIPSYNC_2, Model.LIPSYNC_2_PRO])
def test_every_tier_keeps_frames_fps_size_and_pixels_outside_the_lower_face(model, talking_video, speech_wav,  # noqa: F811
                                                                            tmp_path):
    out = tmp_path / f"{model.value}.mp4"
    result = _run(talking_video, speech_wav, out, model)
    facts = factories.ffprobe_streams(out)
    assert (facts["width"], facts["height"], facts["frames"], facts["fps"]) == (320, 320, 50, "25/1")
    assert result.report.frames_edited == 50 and result.report.frames_passed_through == 0
    src, dst = _frames(talking_video), _frames(out)
    assert _psnr(_outside(src), _outside(dst)) > 40
    for stage in ("decode", "track", "plan", "render", "blend", "encode"):
        assert stage in result.stage_seconds
    kind = "warp" if model is Model.LIPSYNC_1_9 else "retrieval"
    assert f"renderer={kind}" in result.report.notes


def test_mouth_moves_with_speech_and_rests_in_silence(face_video, speech_wav, silence_wav, tmp_path):
    src = _frames(face_video)
    speech = _frames(_run(face_video, speech_wav, tmp_path / "s.mp4", Model.LIPSYNC_1_9).output)
    quiet = _frames(_run(face_video, silence_wav, tmp_path / "q.mp4", Model.LIPSYNC_1_9, SyncMode.CUT_OFF).output)
    n = min(len(quiet), len(src))

    def mouth_change(out: np.ndarray, k: int) -> np.ndarray:
        diff = np.abs(out[:k][(slice(None),) + MOUTH_BOX].astype(int) - src[:k][(slice(None),) + MOUTH_BOX])
        return diff.mean(axis=(1, 2, 3))

    # the rendered mouth, measured again by the face tracker, opens and closes with the planned speech
    from openlipsync.engine.plan import plan_mouth
    from openlipsync.media import load_audio

    said = _measured_opening(speech)
    plan = plan_mouth(load_audio(speech_wav), 16000, 25.0, len(speech))
    assert np.corrcoef(said, plan.opening)[0, 1] > 0.6
    assert np.ptp(said) > 0.1
    # silence: the (smiling, open) source mouth is closed and held still
    assert np.std(mouth_change(quiet, n)) < 1.0
    assert np.median(_measured_opening(quiet)) < 0.5 * np.median(_measured_opening(src))
    assert _psnr(_outside(src[: len(speech)]), _outside(speech)) > 40


def test_frames_without_a_face_pass_through(astronaut, noface_video, speech_wav, tmp_path):  # noqa: F811
    import cv2

    blank = cv2.resize(next(iter_frames(noface_video)), (320, 320))
    video = tmp_path / "gap.mp4"
    with FrameWriter(video, width=320, height=320, fps=25.0, crf=14) as writer:
        for i in range(40):
            writer.write(blank if 15 <= i < 25 else astronaut)
    result = _run(video, speech_wav, tmp_path / "gap_out.mp4", Model.LIPSYNC_2)
    rep = result.report
    assert rep.pass_through_reasons == {"no_face": 10}
    assert rep.frames_edited == 30
    src, dst = _frames(video), _frames(result.output)
    assert _psnr(src[15:25], dst[15:25]) > 40


def test_a_video_without_any_face_raises_no_face(noface_video, speech_wav, tmp_path):
    with pytest.raises(NoFaceError):
        _run(noface_video, speech_wav, tmp_path / "x.mp4", Model.LIPSYNC_2)


def test_a_photo_is_animated_with_the_warp_fallback(face_image, speech_wav, tmp_path):
    result = _run(face_image, speech_wav, tmp_path / "photo.mp4", Model.LIPSYNC_2)
    audio_seconds = probe(speech_wav).duration or 0
    assert abs(result.duration_seconds - audio_seconds) < 0.05
    assert "renderer=warp" in result.report.notes
    out = _frames(result.output)
    assert out.shape[1:] == (320, 320, 3)
    # a still photo: any change between output frames is the mouth moving
    motion = np.abs(np.diff(out[(slice(None),) + MOUTH_BOX].astype(int), axis=0)).mean(axis=(1, 2, 3))
    assert motion.max() > 2.0
    assert np.ptp(_measured_opening(out)) > 0.08


def test_source_frames_are_reread_in_any_order_with_a_small_cache(noface_video, monkeypatch):
    monkeypatch.setattr(pipeline, "FRAME_CACHE_BYTES", frame_bytes(160, 160) * 4)
    info = probe(noface_video)
    ref = [f.data for f in iter_yuv_frames(noface_video)]
    frames = pipeline._SourceFrames(info, len(ref), pipeline._Clock())
    order = list(range(len(ref))) + list(range(len(ref) - 2, 0, -1)) + [0, 1, 2]
    for k in order:
        assert np.array_equal(frames.get(k).data, ref[k])
    frames.close()
    assert frames.capacity == 4


@pytest.fixture(scope="module")
def two_faces_video(astronaut, tmp_path_factory) -> Path:  # noqa: F811
    """A large face on the left and a smaller one on the right, 1 s."""
    import cv2

    canvas = np.full((320, 576, 3), 128, np.uint8)
    canvas[:, :320] = astronaut
    canvas[40:280, 320:560] = cv2.resize(astronaut, (240, 240))
    path = tmp_path_factory.mktemp("faces") / "two.mp4"
    with FrameWriter(path, width=576, height=320, fps=25.0, crf=14) as writer:
        for _ in range(25):
            writer.write(canvas)
    return path


@pytest.mark.parametrize("point, edited_side", [(None, "left"), ((440.0, 150.0), "right")])
def test_only_the_chosen_face_is_edited(two_faces_video, speech_wav, tmp_path, point, edited_side):
    from openlipsync.options import ActiveSpeaker

    speaker = ActiveSpeaker() if point is None else ActiveSpeaker(False, 0, point)
    out = tmp_path / "two_out.mp4"
    result = lipsync(two_faces_video, speech_wav, out,
                     LipSyncOptions(model=Model.LIPSYNC_1_9, sync_mode=SyncMode.CUT_OFF, active_speaker=speaker))
    assert result.report.face_count_max == 2
    src, dst = _frames(two_faces_video), _frames(out)
    # mouth boxes of the large (left) and small (right, scaled 0.75 and shifted) face
    left = (slice(None), slice(120, 175), slice(110, 185))
    right = (slice(None), slice(130, 172), slice(402, 458))
    changed, kept = (left, right) if edited_side == "left" else (right, left)
    noise = np.abs(src[kept].astype(int) - dst[kept]).mean()  # re-encode loss only
    assert noise < 3.0
    assert np.abs(src[changed].astype(int) - dst[changed]).mean() > max(5.0, 2.5 * noise)


@pytest.fixture(scope="module")
def framed_talking_video(talking_video, speech_wav, tmp_path_factory) -> Path:  # noqa: F811
    """The talking astronaut inside a larger frame, so the face region is a small part of it."""
    import cv2

    path = tmp_path_factory.mktemp("framed") / "framed.mp4"
    with FrameWriter(path, width=720, height=480, fps=25.0, audio=speech_wav, crf=14) as writer:
        for frame in iter_frames(talking_video):
            writer.write(cv2.copyMakeBorder(frame, 100, 60, 250, 150, cv2.BORDER_REFLECT))
    return path


@pytest.mark.parametrize("model, mode", [(Model.LIPSYNC_1_9, None), (Model.LIPSYNC_2, None),
                                         (Model.SYNC_3, None), (Model.REACT_1, ModelMode.HEAD)])
def test_editing_the_face_region_equals_editing_the_whole_frame(model, mode, framed_talking_video, speech_wav,
                                                                tmp_path, monkeypatch):
    """The engine converts and edits only a box around the face: every tier's edits must fit in it."""
    from openlipsync.engine import render_retrieval
    from tests.engine.features import capture_frames, skip_calibration

    skip_calibration(monkeypatch)
    # the pro tiers' ECC alignment is accepted or dropped whole (no convergence, or beyond its bound): float
    # rounding in box coordinates can flip that on a frame, which changes hundreds of mouth pixels by a few
    # levels and is not a clipped edit
    monkeypatch.setattr(render_retrieval, "_refine_shift", lambda *args, **kwargs: None)
    opts = LipSyncOptions(model=model, sync_mode=SyncMode.CUT_OFF, **({"model_mode": mode} if mode else {}))

    def frames() -> np.ndarray:
        with capture_frames(monkeypatch) as store:
            lipsync(framed_talking_video, speech_wav, tmp_path / "out.mp4", opts)
        return np.stack(store)

    boxed = frames()
    monkeypatch.setattr(pipeline, "FACE_MARGIN", 100.0)
    monkeypatch.setattr(pipeline, "HEAD_MARGIN", 100.0)
    monkeypatch.setattr(pipeline, "MOUTH_MARGIN", 100.0)
    whole = frames()
    source = np.stack([f.to_rgb(probe(framed_talking_video).color_matrix)
                       for f in iter_yuv_frames(framed_talking_video)])[:len(whole)]
    edited = np.any(whole != source, axis=-1)
    assert edited.sum(axis=(1, 2)).max() > 200  # the edits are real
    # Same edits; only float rounding differs (coordinates relative to another origin): a clipped edit
    # would differ along the box edge in whole rows and columns.
    differ = np.any(boxed != whole, axis=-1)
    assert differ.sum() <= 0.005 * edited.sum()


@pytest.mark.parametrize("model", [Model.LIPSYNC_1_9, Model.LIPSYNC_2])
def test_render_workers_give_the_same_frames_as_rendering_inline(model, framed_talking_video, speech_wav,
                                                                 tmp_path, monkeypatch):
    from tests.engine.features import capture_frames, skip_calibration

    skip_calibration(monkeypatch)
    opts = LipSyncOptions(model=model, sync_mode=SyncMode.CUT_OFF)

    def frames(workers: str) -> np.ndarray:
        monkeypatch.setenv("OPENLIPSYNC_RENDER_WORKERS", workers)
        with capture_frames(monkeypatch) as store:
            lipsync(framed_talking_video, speech_wav, tmp_path / "out.mp4", opts)
        return np.stack(store)

    assert pipeline.render_workers(100) >= 1
    assert np.array_equal(frames("1"), frames("2"))


def test_the_library_skips_a_face_whose_mouth_is_below_the_picture(talking_video, monkeypatch):  # noqa: F811
    from openlipsync.engine import mesh
    from openlipsync.engine.library import LibraryBuilder
    from openlipsync.engine.tracking import FaceTracker
    from tests.engine.features import ScriptedDetector

    info = probe(talking_video)
    lm = pipeline.analyse(info, info.fps, pipeline._Clock(), lambda *a: None, None).landmarks[0]
    d = float(mesh.interocular(lm))
    # the eyes stay in the picture, the mouth and the crop around it (0.6·d above the mouth) fall below it
    shift = info.height - float((lm[61, 1] + lm[291, 1]) / 2) + 0.6 * d + 12
    low = (lm + np.array([0, shift], np.float32)).astype(np.float32)
    assert 0 < mesh.eye_centres(low)[0][1] < info.height
    script = [[low] for _ in range(info.frame_count)]
    monkeypatch.setattr(pipeline, "FaceTracker",
                        lambda fps, w, h: FaceTracker(fps, w, h, detector=ScriptedDetector(script)))  # type: ignore[arg-type]
    builder = LibraryBuilder(info.fps)
    track = pipeline.analyse(info, info.fps, pipeline._Clock(), lambda *a: None, builder)
    assert track.frame_count == info.frame_count
    assert builder.finish(track) is None  # nothing offered, nothing crashed


def _decodes(monkeypatch) -> list[int]:
    """Start frames of every decode the pipeline starts from now on."""
    starts: list[int] = []

    def counting(info, *, start_frame=0):
        starts.append(start_frame)
        return iter_yuv_frames(info, start_frame=start_frame)

    monkeypatch.setattr(pipeline, "iter_yuv_frames", counting)
    return starts


@pytest.mark.parametrize("mode", [SyncMode.CUT_OFF, SyncMode.BOUNCE])
def test_a_video_within_the_spill_budget_is_decoded_once_with_the_same_output(mode, talking_video, speech_wav,  # noqa: F811
                                                                                tmp_path, monkeypatch):
    from tests.engine.features import capture_frames, skip_calibration

    skip_calibration(monkeypatch)
    opts = LipSyncOptions(model=Model.LIPSYNC_1_9, sync_mode=mode)

    def run(spill_mb: str) -> tuple[np.ndarray, list[int]]:
        monkeypatch.setenv("OPENLIPSYNC_FRAME_SPILL_MB", spill_mb)
        starts = _decodes(monkeypatch)
        with capture_frames(monkeypatch) as store:
            lipsync(talking_video, speech_wav, tmp_path / "out.mp4", opts)
        return np.stack(store), starts

    spilled, spilled_starts = run("64")
    decoded, decoded_starts = run("0")
    assert spilled_starts == [0]  # the analysis pass only (bounce reads frames backwards from the spill)
    assert len(decoded_starts) >= 2
    assert np.array_equal(spilled, decoded)
    assert list(tmp_path.iterdir()) == []  # the spill leaves no file behind (the recorder writes none)


@pytest.mark.parametrize("model", [Model.LIPSYNC_1_9, Model.LIPSYNC_2])
def test_frames_whose_mouth_has_left_the_picture_pass_through(model, talking_video, speech_wav, tmp_path,  # noqa: F811
                                                              monkeypatch):
    """The face mesh still places the lips of a face leaving the picture (here the face slides down until
    its mouth is below the bottom edge while its eyes stay in the picture, then comes back). Frames whose
    lips are not all in the picture pass through; the job does not fail on them."""
    from openlipsync.engine import mesh
    from openlipsync.engine.tracking import FaceTracker
    from tests.engine.features import ScriptedDetector, skip_calibration

    info = probe(talking_video)
    lms = pipeline.analyse(info, info.fps, pipeline._Clock(), lambda *a: None, None).landmarks
    d = float(mesh.interocular(lms[0]))
    full = info.height - float(lms[0][mesh.LIP_POINTS, 1].min()) + 0.6 * d
    k = np.arange(len(lms))
    slide = full * np.clip(np.minimum((k - 10) / 8, (40 - k) / 8), 0, 1)
    moved = [lm + np.array([0, dy], np.float32) for lm, dy in zip(lms, slide, strict=True)]
    out = sum(bool((lm[mesh.LIP_POINTS, 1] > info.height - 1).any()) for lm in moved)
    assert out >= 10 and all(0 < mesh.eye_centres(lm)[0][1] < info.height for lm in moved)
    monkeypatch.setattr(pipeline, "FaceTracker", lambda fps, w, h: FaceTracker(
        fps, w, h, detector=ScriptedDetector([[lm] for lm in moved])))  # type: ignore[arg-type]
    skip_calibration(monkeypatch)
    result = lipsync(talking_video, speech_wav, tmp_path / "out.mp4", LipSyncOptions(model=model,
                                                                                    sync_mode=SyncMode.CUT_OFF))
    assert result.report.pass_through_reasons == {"out_of_frame": out}
    assert result.report.frames_edited == len(lms) - out


def test_a_face_that_jumps_out_of_the_picture_does_not_become_the_one_to_edit(talking_video, speech_wav,  # noqa: F811
                                                                                tmp_path, monkeypatch):
    """A face that jumps between two places is tracked as two faces. The one whose lips are always below
    the picture cannot be judged or edited: the other is chosen, and the job edits its frames."""
    from openlipsync.engine import mesh
    from openlipsync.engine.tracking import FaceTracker
    from tests.engine.features import ScriptedDetector, skip_calibration

    info = probe(talking_video)
    lms = pipeline.analyse(info, info.fps, pipeline._Clock(), lambda *a: None, None).landmarks
    d = float(mesh.interocular(lms[0]))
    shift = np.array([0, info.height - float(lms[0][mesh.LIP_POINTS, 1].min()) + 0.6 * d], np.float32)
    below = [k % 10 >= 5 for k in range(len(lms))]
    script = [[lm + shift if b else lm] for lm, b in zip(lms, below, strict=True)]
    monkeypatch.setattr(pipeline, "FaceTracker", lambda fps, w, h: FaceTracker(
        fps, w, h, detector=ScriptedDetector(script)))  # type: ignore[arg-type]
    skip_calibration(monkeypatch)
    result = lipsync(talking_video, speech_wav, tmp_path / "out.mp4", LipSyncOptions(model=Model.LIPSYNC_1_9,
                                                                                    sync_mode=SyncMode.CUT_OFF))
    assert result.report.frames_edited == len(lms) - sum(below)
    assert sum(result.report.pass_through_reasons.values()) == sum(below)


def test_an_audio_file_that_cannot_be_decoded_fails_the_run_with_a_media_error(face_video, speech_wav, tmp_path,
                                                                                monkeypatch):
    # the driving audio is cut by the run's audio stage (a child process, during the video pass): an
    # audio file that probes but does not decode must still end the run with a clear error
    audio = tmp_path / "speech.wav"
    audio.write_bytes(speech_wav.read_bytes())
    entry = sys.modules["openlipsync.lipsync"]
    probe_inputs = entry.probe_inputs

    def probe_then_break(video, sound):
        found = probe_inputs(video, sound)
        audio.write_bytes(b"RIFF" + bytes(range(256)) * 8)  # replaced after the probe: no longer audio
        return found

    monkeypatch.setattr(entry, "probe_inputs", probe_then_break)
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as err:
        lipsync(face_video, audio, out, LipSyncOptions(model=Model.LIPSYNC_2))
    assert "preparing the audio track" in str(err.value) and err.value.code == "generation_pipeline_failed"
    assert not out.exists()


def test_a_video_that_skips_frames_keeps_its_frame_rate_and_timing(talking_video, speech_wav,  # noqa: F811
                                                                   tmp_path):
    # every third frame dropped, timestamps kept (a phone in low light): 50 slots at 25 fps, 34 stored
    skipping = factories.make_skipping_video(tmp_path / "skipping.mp4", talking_video)
    result = _run(skipping, speech_wav, tmp_path / "out.mp4", Model.LIPSYNC_2)
    facts = factories.ffprobe_streams(tmp_path / "out.mp4")
    # the output plays at the video's own rate, each picture when it showed in the input (a skipped slot
    # holds the frame before it, as players do), with a mouth rendered for every slot
    assert (facts["frames"], facts["fps"]) == (50, "25/1")
    assert result.frame_count == 50 and result.report.frames_edited == 50
    assert any("skips frames" in note and "25 fps" in note for note in result.report.notes)
    shown = [k - 1 if k % 3 == 2 else k for k in range(50)]
    assert _psnr(_outside(_frames(talking_video)[shown]), _outside(_frames(tmp_path / "out.mp4"))) > 40
