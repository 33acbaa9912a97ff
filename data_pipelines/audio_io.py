"""Decoding the datasets' audio files to float32 samples.

RAVDESS and VOCASET ship PCM .wav (read with soundfile); MEAD ships AAC in .m4a, decoded
with PyAV (FFmpeg), which honours the container's edit list so the encoder's priming
samples (1024 at the start of every AAC stream) are dropped and the clip is exactly as
long as the container says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data_pipelines.records import preprocessing
from data_pipelines.records.schema import SAMPLE_RATE_HZ

SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg")
FFMPEG_SUFFIXES = (".m4a", ".mp4", ".aac", ".mp3")


class AudioReadError(Exception):
    """The file could not be decoded; the message says why."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decodes a file to ([samples, channels] float32 in [-1, 1], sample rate in Hz)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SOUNDFILE_SUFFIXES:
        return _read_soundfile(path)
    if suffix in FFMPEG_SUFFIXES:
        return _read_ffmpeg(path)
    raise AudioReadError(f"unsupported audio format {suffix!r}")


def load_audio_16k(path: str | Path) -> np.ndarray:
    """Decodes, downmixes and resamples a file: -> [samples] float32 at 16 kHz."""
    audio, rate = read_audio(path)
    return preprocessing.resample_audio(preprocessing.to_mono(audio), rate, SAMPLE_RATE_HZ)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as error:
        raise AudioReadError(str(error)) from None
    return audio, int(rate)


def _read_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioReadError("no audio stream")
            stream = container.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate)
            # Packed float output whatever the codec's native format (AAC decodes to planar fltp).
            resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=rate)
            chunks = []
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    chunks.append(converted.to_ndarray().reshape(-1, converted.layout.nb_channels))
            for converted in resampler.resample(None):
                chunks.append(converted.to_ndarray().reshape(-1, converted.layout.nb_channels))
            declared = _declared_samples(stream, rate)
    except AudioReadError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise AudioReadError(str(error)) from None
    if not chunks:
        raise AudioReadError("no decodable audio frames")
    audio = np.concatenate(chunks, axis=0).astype(np.float32, copy=False)
    # AAC pads the last frame to 1024 samples; the container's duration says where the clip ends.
    if declared is not None and 0 < declared < audio.shape[0]:
        audio = audio[:declared]
    return audio, rate


def _declared_samples(stream, rate: int) -> int | None:
    """The stream's duration in samples, when the container states one."""
    if stream.duration is None or stream.time_base is None:
        return None
    return int(round(float(stream.duration * stream.time_base) * rate))
