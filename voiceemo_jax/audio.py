"""Reading user audio: any common container, any rate, any channel count -> 16 kHz mono.

wav/flac/ogg/mp3 go through libsndfile (soundfile); anything it cannot open (m4a/AAC,
video files) is decoded with FFmpeg's libraries through PyAV. Resampling uses soxr via
librosa. Every failure becomes a one-line `UserError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from voiceemo_jax.errors import UserError

SAMPLE_RATE_HZ = 16_000


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)


def _decode_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        chunks = []
        for frame in container.decode(stream):
            samples = frame.to_ndarray().astype(np.float32)
            if np.issubdtype(frame.to_ndarray().dtype, np.integer):
                samples /= float(np.iinfo(frame.to_ndarray().dtype).max) + 1.0
            # Planar formats give [channels, n]; packed give [1, n * channels].
            channels = len(frame.layout.channels)
            if frame.format.is_planar:
                chunks.append(samples.reshape(channels, -1).mean(axis=0))
            else:
                chunks.append(samples.reshape(-1, channels).mean(axis=1))
    if not chunks:
        return np.zeros(0, np.float32), int(rate)
    return np.concatenate(chunks), int(rate)


def load_audio(path: str | os.PathLike, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Decodes, mixes down and resamples -> [samples] float32 at `sample_rate_hz`.

    Raises UserError for a missing file, a file that is not audio, and NaN/inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"audio file {path} does not exist")
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    try:
        audio, rate = _decode_soundfile(path)
    except Exception:
        try:
            audio, rate = _decode_av(path)
        except Exception as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"{path} is not a readable audio file ({reason})") from None
    if audio.size and not np.all(np.isfinite(audio)):
        raise UserError(f"{path} contains NaN or infinite samples")
    if audio.size and rate != sample_rate_hz:
        import librosa

        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate_hz, res_type="soxr_hq")
    return np.ascontiguousarray(audio, dtype=np.float32)


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
