"""Media the project generates itself (redistributable): the public-domain astronaut portrait that ships
in scikit-image, speech from espeak-ng.

- ``make_talking_clip``: a talking clip for the quality harness. Syllables are synthesised one by one so
  their timing is known; the mouth is opened with the harness's simple warp following a per-syllable
  vowel target. Its "real mouth" is therefore synthetic: it proves the harness runs end to end on a fresh
  clone, it is not evidence of realism.
- ``make_bench_video``: the portrait talking, with head motion, at 720p/1080p with a realistically sized face.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from openlipsync.media import FrameWriter, load_audio, write_wav
from openlipsync.media.tts import synthesize

SR = 16_000
# consonant onsets: bilabials close the lips first
_ONSETS = ("b", "m", "p", "l", "d", "w", "s", "n")
# vowel → relative opening (open "a" widest, close "i"/"u" narrow)
_VOWELS = {"a": 1.0, "o": 0.7, "e": 0.55, "i": 0.3, "u": 0.35}
BENCH_TEXT = ("Every frame of this clip is generated on the machine that measures it. The portrait moves "
              "slowly while the voice keeps talking about the weather, the river and the old blue boat. ")


def astronaut_portrait() -> np.ndarray:
    """The astronaut photo, face-centred square crop (320×320 from the 512×512 original)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[0:320, 80:400])


def _trim(samples: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0]:loud[-1] + 1] if len(loud) else samples[:0]


def syllable_track(seconds: float, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float, float, bool]]]:
    """Speech of about ``seconds`` made of single espeak syllables with pauses.

    Returns (16 kHz mono audio, [(start_s, end_s, vowel_opening, bilabial_onset), ...]).
    """
    rng = np.random.default_rng(seed)
    cache: dict[str, np.ndarray] = {}
    parts: list[np.ndarray] = [np.zeros(int(0.5 * SR), np.float32)]
    events: list[tuple[float, float, float, bool]] = []
    t = 0.5
    with tempfile.TemporaryDirectory(prefix="openlipsync-syl-") as tmp:
        while t < seconds - 1.0:
            onset, vowel = str(rng.choice(_ONSETS)), str(rng.choice(list(_VOWELS)))
            word = onset + vowel + vowel  # "baa", "moo": espeak pronounces a clear open vowel
            if word not in cache:
                wav = synthesize(word, Path(tmp) / f"{word}.wav", words_per_minute=150)
                cache[word] = _trim(load_audio(wav))
            syl = cache[word]
            events.append((t, t + len(syl) / SR, _VOWELS[vowel], onset in ("b", "m", "p")))
            gap = float(rng.choice([0.08, 0.12, 0.2, 0.7], p=[0.35, 0.3, 0.2, 0.15]))
            parts += [syl, np.zeros(int(gap * SR), np.float32)]
            t += len(syl) / SR + gap
    audio = np.concatenate(parts)
    audio = np.concatenate([audio, np.zeros(max(0, int(seconds * SR) - len(audio)), np.float32)])
    return audio[: int(seconds * SR)], events


def opening_track(events: list[tuple[float, float, float, bool]], fps: float, n: int) -> np.ndarray:
    """(n,) target opening 0..1 per frame: a smooth bump per syllable, closed lips at bilabial onsets.

    The lips lead the sound by ~40 ms, as in natural speech (anticipatory coarticulation).
    """
    times = np.arange(n) / fps + 0.04
    out = np.zeros(n)
    for start, end, amount, bilabial in events:
        if bilabial:
            start += 0.05  # lips stay shut through the plosive/nasal closure
        phase = (times - start) / max(end - start, 1e-3)
        inside = (phase > 0) & (phase < 1)
        out[inside] = np.maximum(out[inside], amount * np.sin(np.pi * phase[inside]) ** 0.6)
    return out


def make_talking_clip(path: Path, *, seconds: float = 10.0, fps: float = 25.0, size: int = 360,
                      seed: int = 0, max_open: float = 0.45) -> Path:
    """Write a talking astronaut clip (video + its speech) to ``path``.

    ``max_open`` is the widest opening added, in units of the inter-ocular distance.
    """
    import cv2

    from openlipsync.evaluation.landmarks import DlibLandmarker
    from openlipsync.evaluation.metrics import inter_ocular
    from openlipsync.evaluation.mouth_warp import warp_mouth

    base = cv2.resize(astronaut_portrait(), (size, size), interpolation=cv2.INTER_AREA)
    marks = DlibLandmarker()(base)
    iod = float(inter_ocular(marks[None])[0])
    n = int(round(seconds * fps))
    audio, events = syllable_track(n / fps, seed)
    target = opening_track(events, fps, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="openlipsync-clip-") as tmp:
        wav = write_wav(Path(tmp) / "speech.wav", audio)
        with FrameWriter(path, width=size, height=size, fps=fps, audio=wav, crf=14) as writer:
            for i in range(n):
                frame = warp_mouth(base, marks, target[i] * max_open * iod)
                writer.write(_head_motion(frame, i, fps, amplitude=size * 0.006))
    return path


def _head_motion(frame: np.ndarray, i: int, fps: float, amplitude: float, roll_deg: float = 1.0) -> np.ndarray:
    """Slow sway and nod (translation + small roll) of a whole frame."""
    import cv2

    t = i / fps
    h, w = frame.shape[:2]
    dx = amplitude * math.sin(2 * math.pi * t / 3.1)
    dy = amplitude * 0.6 * math.sin(2 * math.pi * t / 2.3 + 1.0)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), roll_deg * math.sin(2 * math.pi * t / 4.7), 1.0)
    m[:, 2] += np.array([dx, dy])
    return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def make_bench_video(path: Path, *, height: int = 720, seconds: float = 10.0, fps: float = 25.0,
                     audio: Path | None = None) -> Path:
    """The portrait moving slowly in a 16:9 frame of ``height`` rows; the face is ~1/3 of the frame height.

    With ``audio`` the face also talks: its mouth opens with the loudness of that speech, so the clip
    has the range of mouth shapes a real talking-head video has (the retrieval tiers need them).
    The background is a blurred, enlarged copy of the photo so the encoder sees natural texture everywhere.
    """
    import cv2

    from openlipsync.evaluation.landmarks import DlibLandmarker
    from openlipsync.evaluation.metrics import inter_ocular
    from openlipsync.evaluation.mouth_warp import warp_mouth

    width = int(round(height * 16 / 9 / 2)) * 2
    photo = astronaut_portrait()
    # in the 320 crop the face is ~125 px tall; scale so it is ~ height/3 (a typical talking-head framing)
    side = int(round(height / 3 / 125 * 320))
    face = cv2.resize(photo, (side, side), interpolation=cv2.INTER_CUBIC)
    bg = cv2.GaussianBlur(cv2.resize(photo, (width, height), interpolation=cv2.INTER_LINEAR), (0, 0), 9)
    x0, y0 = (width - side) // 2, max(0, (height - side) // 2 - height // 12)
    n = int(round(seconds * fps))
    opening, marks, iod = np.zeros(n), np.zeros((68, 2)), 0.0
    if audio is not None:
        opening = _loudness_opening(load_audio(audio), fps, n)
        marks = DlibLandmarker()(face)
        iod = float(inter_ocular(marks[None])[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with FrameWriter(path, width=width, height=height, fps=fps, audio=audio, crf=18) as writer:
        for i in range(n):
            canvas = bg.copy()
            canvas[y0:y0 + side, x0:x0 + side] = warp_mouth(face, marks, opening[i] * 0.4 * iod) \
                if opening[i] > 0 else face
            writer.write(_head_motion(canvas, i, fps, amplitude=height * 0.01))
    return path


def _loudness_opening(audio: np.ndarray, fps: float, n: int, sr: int = 16_000) -> np.ndarray:
    """(n,) mouth opening 0..1 per frame following the speech loudness (silence → closed)."""
    hop = sr / fps
    rms = np.array([np.sqrt(np.mean(audio[int(i * hop):int((i + 1) * hop)] ** 2) + 1e-12)
                    if int(i * hop) < audio.size else 0.0 for i in range(n)])
    level = np.clip((np.log10(rms + 1e-5) + 2.6) / 1.4, 0.0, 1.0)
    return np.convolve(level, np.ones(3) / 3, mode="same")


def make_speech(path: Path, seconds: float, text: str = BENCH_TEXT) -> Path:
    """espeak-ng speech padded/trimmed to exactly ``seconds`` (the text repeats as needed)."""
    words_per_second = 2.6
    repeats = max(1, math.ceil(seconds * words_per_second / max(len(text.split()), 1)))
    with tempfile.TemporaryDirectory(prefix="openlipsync-tts-") as tmp:
        raw = synthesize((text * repeats).strip()[:4900], Path(tmp) / "raw.wav", words_per_minute=160)
        samples = load_audio(raw)
    n = int(round(seconds * SR))
    return write_wav(path, np.tile(samples, math.ceil(n / max(len(samples), 1)))[:n])
