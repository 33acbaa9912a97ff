"""Muxing rendered frames and the input speech into an MP4 (H.264 yuv420p + AAC) with PyAV.

PyAV bundles its own FFmpeg, so no `ffmpeg` binary is needed. The audio is cut or padded
with silence to exactly the video's length (frames / fps), so players show both streams
ending together; coefficients from `voiceemo predict` have T = ceil(seconds * 30) frames,
so the padding is under one frame. The file is written under a temporary name and renamed
when complete: a failed or interrupted render leaves nothing at the output path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS

_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Any audio file FFmpeg reads -> ([channels, samples] float32 in [-1, 1], sample rate in Hz).

    Mono and stereo are kept; more channels are mixed down to stereo. Rates AAC cannot
    carry are resampled to 48 kHz.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such audio file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise UserError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            rate = stream.rate if stream.rate in _AAC_RATES else 48000
            layout = "mono" if stream.channels == 1 else "stereo"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            chunks = []
            for frame in container.decode(stream):
                chunks += [f.to_ndarray() for f in resampler.resample(frame)]
            chunks += [f.to_ndarray() for f in resampler.resample(None)]
    except UserError:
        raise
    except (av.FFmpegError, ValueError) as error:
        raise UserError(f"{path}: cannot decode the audio ({error})") from None
    if not chunks:
        raise UserError(f"{path}: the audio is empty")
    samples = np.concatenate(chunks, axis=1).astype(np.float32)
    if samples.shape[1] == 0:
        raise UserError(f"{path}: the audio is empty")
    return samples, rate


def fit_length(samples: np.ndarray, num_samples: int) -> np.ndarray:
    """[C, S] -> [C, num_samples]: truncated, or padded with silence."""
    if samples.shape[1] >= num_samples:
        return samples[:, :num_samples]
    return np.pad(samples, ((0, 0), (0, num_samples - samples.shape[1])))


def write_mp4(
    frames: Iterable[np.ndarray],
    num_frames: int,
    size: tuple[int, int],
    audio: tuple[np.ndarray, int] | None,
    out_path: str | os.PathLike,
    fps: int = FPS,
    crf: int = 18,
) -> None:
    """Encodes `num_frames` RGB frames ([height, width, 3] uint8) and the audio into `out_path`.

    size: (width, height), both even. audio: (samples [C, S] float32, rate) or None.
    Raises if `frames` yields a different number of frames or frame size.
    """
    import av

    width, height = size
    with atomic_path(out_path, suffix=".mp4") as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            video = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "veryfast"})
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            if audio is not None:
                samples, rate = audio
                layout = "mono" if samples.shape[0] == 1 else "stereo"
                sound = container.add_stream("aac", rate=rate, layout=layout)
                sound.bit_rate = 128_000
            written = 0
            for image in frames:
                if image.shape != (height, width, 3):
                    raise ValueError(f"frame {written} has shape {image.shape}, expected {(height, width, 3)}")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
                frame.pts = written
                container.mux(video.encode(frame))
                written += 1
            if written != num_frames:
                raise ValueError(f"rendered {written} frames, expected {num_frames}")
            container.mux(video.encode(None))
            if audio is not None:
                _encode_audio(container, sound, fit_length(samples, round(num_frames * rate / fps)), rate)


def _encode_audio(container, stream, samples: np.ndarray, rate: int) -> None:
    """Feeds [C, S] float32 samples to the AAC encoder in 1024-sample frames (its frame size)."""
    import av

    layout = "mono" if samples.shape[0] == 1 else "stereo"
    step = 1024
    for start in range(0, samples.shape[1], step):
        chunk = np.ascontiguousarray(samples[:, start : start + step])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
