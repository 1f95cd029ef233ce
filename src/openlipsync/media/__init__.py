"""Media I/O: probing, streamed decoding and encoding through ffmpeg, audio loading, offline TTS."""

from openlipsync.media.audio import load_audio, load_video_audio, write_wav
from openlipsync.media.decode import iter_frames
from openlipsync.media.encode import FrameWriter
from openlipsync.media.probe import MediaInfo, probe

__all__ = ["FrameWriter", "MediaInfo", "iter_frames", "load_audio", "load_video_audio", "probe", "write_wav"]
