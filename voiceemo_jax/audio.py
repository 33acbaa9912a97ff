"""Reading audio files: the one reader for data builds, inference and batch prediction.

Any common container, any rate, any channel count -> 16 kHz mono float32, always by the
same steps, so the model is served exactly the samples it was trained on:

  decode    libsndfile (soundfile) for what it reads (wav, flac, ogg, mp3 ...); anything
            else (m4a/AAC, video files) with FFmpeg's libraries through PyAV.
  trim      to the container's stated duration. FFmpeg drops the encoder priming the
            container's edit list declares (1024 samples at the start of every AAC
            stream); the padding of the last AAC frame past the duration is cut here.
  mix       the mean over channels.
  resample  soxr (HQ) to 16 kHz, then exactly ceil(n * 16000 / rate) samples.

So a clip of `seconds` (as its container states them) gives ceil(seconds * 16000)
samples and `frames_for` of them = ceil(seconds * 30) frames, wherever it is read
(exactly so when the clip is a whole number of 16 kHz samples long; otherwise its length
is first rounded up to one).
A file that cannot be read raises `AudioReadError`, a one-line `UserError` naming it
(the data builders skip the clip with its `reason`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import SAMPLE_RATE_HZ

SOXR_QUALITY = "HQ"


class AudioReadError(UserError):
    """The file gives no usable audio: the message names it; `reason` says why without the path."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class NonFiniteAudioError(AudioReadError):
    """The file decodes, but to NaN or infinite samples."""


def _first_line(error: Exception) -> str:
    # FFmpeg's and the OS's errors carry the bare reason in `strerror` (str() appends the path).
    text = str(getattr(error, "strerror", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data, int(rate)


def _decode_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate)
        # Packed float output whatever the codec's native format (AAC decodes to planar fltp);
        # same rate and layout, so this converts the sample format only.
        converter = av.AudioResampler(format="flt", layout=stream.layout.name, rate=rate)
        chunks = []
        for frame in [*container.decode(stream), None]:
            for converted in converter.resample(frame):
                chunks.append(converted.to_ndarray().reshape(-1, converted.layout.nb_channels))
        declared = _declared_samples(stream, rate)
    if not chunks:
        raise ValueError("no decodable audio frames")
    audio = np.concatenate(chunks, axis=0)
    if declared is not None and 0 < declared < audio.shape[0]:
        audio = audio[:declared]  # the last AAC frame is padded to 1024 samples past the duration
    return audio, rate


def _declared_samples(stream, rate: int) -> int | None:
    """The stream's duration in samples at `rate`, when the container states one."""
    if stream.duration is None or stream.time_base is None:
        return None
    return int(round(float(stream.duration * stream.time_base) * rate))


def decode(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decodes a file at its own rate -> ([samples] float32 mono, sample rate in Hz).

    Raises AudioReadError for a missing file, a folder, and anything neither libsndfile nor
    FFmpeg can decode.
    """
    path = Path(path)
    if not path.exists():
        raise AudioReadError(f"audio file {path} does not exist", "file does not exist")
    if not path.is_file():
        raise AudioReadError(f"{path} is not a file", "not a file")
    try:
        audio, rate = _decode_soundfile(path)
    except Exception:  # libsndfile does not know the format: FFmpeg may
        try:
            audio, rate = _decode_av(path)
        except Exception as error:
            reason = _first_line(error)
            raise AudioReadError(f"{path} is not a readable audio file ({reason})", reason) from None
    mono = audio.mean(axis=1, dtype=np.float32) if audio.shape[1] > 1 else audio[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), rate


def resample(audio: np.ndarray, source_rate_hz: int, target_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """[n] float32 at `source_rate_hz` -> [ceil(n * target / source)] float32 at `target_rate_hz`.

    soxr's HQ converter (linear phase, the anti-aliasing low-pass keeps nothing above the
    new Nyquist folding back into the band wav2vec2 sees). soxr rounds the output length;
    it is padded or cut to the ceiling so lengths follow the same rule as `frames_for`.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"resample expects mono [samples], got shape {audio.shape}")
    source_rate_hz, target_rate_hz = int(source_rate_hz), int(target_rate_hz)
    if source_rate_hz <= 0 or target_rate_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {source_rate_hz} -> {target_rate_hz}")
    if source_rate_hz == target_rate_hz or audio.size == 0:
        return audio.copy()
    import soxr

    out = soxr.resample(audio, source_rate_hz, target_rate_hz, quality=SOXR_QUALITY)
    length = -(-audio.size * target_rate_hz // source_rate_hz)
    if out.size < length:
        out = np.pad(out, (0, length - out.size))
    return np.ascontiguousarray(out[:length], dtype=np.float32)


def load_audio(path: str | os.PathLike, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Decodes, mixes down and resamples -> [samples] float32 at `sample_rate_hz`.

    Raises AudioReadError (a UserError) for a missing file and a file that is not audio,
    NonFiniteAudioError for NaN/inf samples.
    """
    audio, rate = decode(path)
    if not np.all(np.isfinite(audio)):
        raise NonFiniteAudioError(f"{path} contains NaN or infinite samples", "audio has non-finite samples")
    return resample(audio, rate, sample_rate_hz)


def audio_seconds(path: str | os.PathLike) -> float:
    """Duration from the file's header, without decoding; inf when unknown or unreadable.

    The same choice of library as `decode`: libsndfile's frame count for what it reads,
    else the container's stated duration.
    """
    try:
        import soundfile

        info = soundfile.info(str(path))
        return info.frames / info.samplerate
    except Exception:
        pass
    try:
        import av

        with av.open(str(path)) as container:
            if container.streams.audio:
                stream = container.streams.audio[0]
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
            if container.duration:
                return container.duration / 1e6
    except Exception:
        pass
    return float("inf")


def check_audio(audio: np.ndarray, *, min_samples: int, name: str, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
    """Rejects audio the model cannot use, with a message naming `name`."""
    if audio.ndim != 1:
        raise UserError(f"{name}: expected mono audio, got shape {audio.shape}")
    if audio.size == 0:
        raise UserError(f"{name} contains no audio samples (empty)")
    if not np.all(np.isfinite(audio)):
        raise UserError(f"{name} contains NaN or infinite samples")
    if audio.size < min_samples:
        raise UserError(
            f"{name} is too short: {audio.size} samples ({1000 * audio.size / sample_rate_hz:.1f} ms) at "
            f"{sample_rate_hz} Hz; the encoders need at least {min_samples} samples "
            f"({1000 * min_samples / sample_rate_hz:.1f} ms) for one frame"
        )
