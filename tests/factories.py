"""Test media made at test time: no binary fixtures are committed, and ../shared is never required."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np

from openlipsync.media import FrameWriter, write_wav
from openlipsync.media.tts import synthesize

SPEECH_TEXT = "Peter bought a big blue boat. Mama made more warm bread, and we all ate it happily."


def astronaut_frame(size: int = 320) -> np.ndarray:
    """The public-domain astronaut portrait (ships in scikit-image), face-centred crop resized to ``size``."""
    import cv2
    from skimage import data

    img = data.astronaut()  # 512×512 RGB, face around (x≈200..290, y≈60..190)
    crop = img[0:320, 80:400]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)


def make_face_video(path: Path, *, seconds: float = 2.0, fps: float = 25.0, size: int = 320,
                    motion_px: float = 3.0, audio: Path | None = None) -> Path:
    """A short video of the astronaut with slight head motion (translation), optionally with audio."""
    import cv2

    base = astronaut_frame(size)
    n = int(round(seconds * fps))
    with FrameWriter(path, width=size, height=size, fps=fps, audio=audio, crf=16) as writer:
        for i in range(n):
            dx = motion_px * math.sin(2 * math.pi * i / max(n, 1))
            dy = motion_px * 0.5 * math.cos(2 * math.pi * i / max(n, 1))
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            writer.write(cv2.warpAffine(base, m, (size, size), borderMode=cv2.BORDER_REFLECT))
    return path


def make_noface_video(path: Path, *, seconds: float = 1.0, fps: float = 25.0, size: int = 160) -> Path:
    """A moving gradient: decodable video with no face anywhere."""
    n = int(round(seconds * fps))
    yy, xx = np.mgrid[0:size, 0:size]
    with FrameWriter(path, width=size, height=size, fps=fps, crf=20) as writer:
        for i in range(n):
            frame = np.stack([(xx + i * 4) % 256, (yy * 2) % 256, np.full_like(xx, 90)], axis=-1)
            writer.write(frame.astype(np.uint8))
    return path


def make_speech(path: Path, text: str = SPEECH_TEXT, voice: str = "en-us") -> Path:
    return synthesize(text, path, voice=voice, words_per_minute=170)


def make_silence(path: Path, seconds: float = 1.5, sr: int = 16000) -> Path:
    return write_wav(path, np.zeros(int(seconds * sr), np.float32), sr)


def make_tone(path: Path, seconds: float = 1.0, sr: int = 16000, freq: float = 220.0) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    return write_wav(path, 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32), sr)


def make_corrupt(path: Path, source: Path | None = None) -> Path:
    """Random bytes with an mp4 name, or a truncated copy of ``source``."""
    if source is None:
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    else:
        data = source.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    return path


def make_click_video(path: Path, video_start: float) -> Path:
    """A 2 s clip whose sound is one click at 0.5 s of the audio track, its picture starting ``video_start``
    seconds into that track (how cameras and edit lists leave streams apart)."""
    plain = path.with_name(path.stem + "-plain.mov")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x64:r=25:d=2",
                    "-f", "lavfi", "-i", "aevalsrc='if(between(t,0.5,0.51),0.9,0)':s=16000:d=2",
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-c:a", "pcm_s16le", str(plain)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-itsoffset", f"{video_start}", "-i", str(plain), "-i", str(plain),
                    "-map", "0:v", "-map", "1:a", "-c", "copy", str(path)], check=True)
    return path


def make_grey_ramp_video(path: Path, *, frames: int = 30, fps: float = 25.0, size: int = 32) -> Path:
    """Frame k is a flat grey of level 40 + 5·k: which source frame a decoder shows can be read back."""
    with FrameWriter(path, width=size, height=size, fps=fps, crf=0) as writer:
        for k in range(frames):
            writer.write(np.full((size, size, 3), 40 + 5 * k, np.uint8))
    return path


def make_skipping_video(path: Path, source: Path, *, fps: int = 25) -> Path:
    """``source`` (a constant-rate clip at ``fps``) with every third frame dropped and the other frames'
    timestamps kept, as a phone records in low light: variable frame rate, average 2/3 of ``fps``."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vf", "select='not(eq(mod(n\\,3)\\,2))'",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "0", "-r", str(fps), "-an", str(path)],
                   check=True)
    return path


def make_live_recording(path: Path, *, video: bool = True, seconds: float = 2.0) -> Path:
    """A webm written as a browser's MediaRecorder or a saved stream writes it: no duration and no frame
    count in the container (``-live 1``); 25 fps VP8 test picture and/or Opus tone."""
    inputs = ["-f", "lavfi", "-i", f"sine=d={seconds}"]
    if video:
        inputs = ["-f", "lavfi", "-i", f"testsrc=s=160x120:r=25:d={seconds}", *inputs]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *(["-c:v", "libvpx"] if video else []),
                    "-c:a", "libopus", "-live", "1", "-f", "webm", str(path)], check=True)
    return path


def ffprobe_streams(path: Path) -> dict[str, float | int | str]:
    """Duration and stream facts of ``path`` read with the ffprobe binary (independent of our probe)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,width,height,nb_read_frames,r_frame_rate:format=duration", "-of", "json", str(path)],
        capture_output=True, check=True, text=True).stdout
    import json

    data = json.loads(out)
    facts: dict[str, float | int | str] = {"duration": float(data["format"]["duration"])}
    for s in data["streams"]:
        if s["codec_type"] == "video":
            facts.update(width=s["width"], height=s["height"], frames=int(s["nb_read_frames"]),
                         fps=s["r_frame_rate"])
        elif s["codec_type"] == "audio":
            facts["audio"] = 1
    return facts
