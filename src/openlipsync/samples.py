"""The bundled, redistributable demo sample (provenance: docs/SAMPLES.md).

Image: the public-domain NASA portrait of astronaut Eileen Collins that ships inside scikit-image.
Speech: synthesised offline by espeak-ng (GPL-3 program; its output is not covered by its licence).
"""

from __future__ import annotations

from pathlib import Path

DEMO_TEXT = (
    "Hello from orbit. This video was made on an ordinary computer, with no cloud and no downloads. "
    "My mouth is moving to match these words, and it rests when I pause."
)


def demo_inputs(directory: str | Path) -> tuple[Path, Path]:
    """Write (once) the demo portrait and speech into ``directory``; return their paths."""
    from skimage import data
    from skimage.io import imsave

    from openlipsync.media.tts import synthesize

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    image, speech = directory / "astronaut.png", directory / "demo_speech.wav"
    if not image.is_file():
        imsave(image, data.astronaut(), check_contrast=False)
    if not speech.is_file():
        synthesize(DEMO_TEXT, speech, voice="en-us", words_per_minute=150)
    return image, speech
