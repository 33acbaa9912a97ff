"""Inference: a jit-compiled predictor over padded, length-bucketed batches.

Audio is padded up to a multiple of `bucket_samples` so that a stream of clips of
different lengths compiles a handful of programs, not one per length; the padding masks
make the padded result identical to the unpadded one.

Clips longer than the window (`DEFAULT_WINDOW`: 20 s windows, 3 s of context on each
side of a 14 s core) run windowed (`windows.py`): memory stays bounded whatever the
length, and the encoders' cost grows linearly instead of quadratically. `window=None`
turns this off (the whole clip in one pass, as the release does).

Devices: a padded batch is split over every local device (a one-axis `data` mesh, the
parameters replicated), its rows filled up to a multiple of the device count by
repeating the last one; each device computes its rows exactly as one device computes
them all.

Precision: `dtype=jnp.bfloat16` (`voiceemo predict --dtype bfloat16`) stores the parameters
and computes the activations in bf16 through the compute dtype the training side uses
(`VoiceEmo(dtype=...)`, `model.dtype=bfloat16`), with float32 where the numerics need it:
norm statistics, attention logits and softmax, emotion pooling, time resampling, the
waveform normalisation and the returned outputs and logits.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from voiceemo_jax import checkpoint_io
from voiceemo_jax.audio import check_audio
from voiceemo_jax.errors import UserError
from voiceemo_jax.inference import pauses
from voiceemo_jax.inference.windows import WindowConfig, WindowEngine, plan_windows, predict_windowed
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.voiceemo import VoiceEmo
from voiceemo_jax.training.model_setup import DTYPES

DEFAULT_BUCKET_SECONDS = 1.0
DEFAULT_WINDOW = WindowConfig(window_seconds=20.0, context_seconds=3.0)


@dataclasses.dataclass
class Prediction:
    outputs: np.ndarray  # [T, D] float32, T = ceil(seconds * 30)
    emotion_logits: np.ndarray  # [labels] float32
    emotion_labels: tuple[str, ...]
    windowed: bool = False  # True when the clip ran in overlapping windows

    @property
    def emotion_probabilities(self) -> np.ndarray:
        shifted = np.exp(self.emotion_logits - self.emotion_logits.max())
        return shifted / shifted.sum()

    @property
    def emotion(self) -> str:
        return self.emotion_labels[int(np.argmax(self.emotion_logits))]


@functools.partial(jax.jit, static_argnums=(0,))
def _forward(graphdef, params, audio, num_samples, level, person, emotion_audio, emotion_num_samples):
    model = nnx.merge(graphdef, params)
    result = model(
        audio, num_samples, level, person, emotion_audio=emotion_audio, emotion_num_samples=emotion_num_samples
    )
    return result["outputs"].astype(jnp.float32), result["emotion_logits"].astype(jnp.float32)


def compute_dtype(dtype) -> jnp.dtype:
    """ "float32" / "bfloat16" / a jnp dtype / None (float32) -> the jnp dtype; ValueError otherwise."""
    if dtype is None:
        return jnp.dtype(jnp.float32)
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        dtype = DTYPES[dtype]
    dtype = jnp.dtype(dtype)
    if dtype not in {jnp.dtype(d) for d in DTYPES.values()}:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype}")
    return dtype


def with_dtype(model: VoiceEmo, dtype) -> VoiceEmo:
    """`model` computing in `dtype`, its floating-point parameters stored in it too.

    The compute dtype is a constructor option of the layers (as `model.dtype` in training),
    so the module structure is rebuilt abstractly with it and given the cast parameters.
    """
    dtype = compute_dtype(dtype)
    if dtype == jnp.float32:
        return model
    abstract = nnx.eval_shape(lambda: VoiceEmo(model.config, dtype=dtype, rngs=nnx.Rngs(0)))
    graphdef, _ = nnx.split(abstract)
    state = jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, nnx.state(model))
    return nnx.merge(graphdef, state)


def _fill_rows(array: np.ndarray, rows: int) -> np.ndarray:
    """array [n, ...] -> [rows, ...], the last row repeated into the extra rows."""
    fill = rows - len(array)
    return array if fill == 0 else np.concatenate([array, np.repeat(array[-1:], fill, axis=0)])


def pad_batch(
    clips: Sequence[np.ndarray], bucket_samples: int, pad_to: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Clips -> ([B, S] zero-padded, S a multiple of bucket_samples, or `pad_to`; [B] lengths)."""
    lengths = np.array([len(c) for c in clips], np.int32)
    padded = int(-(-lengths.max() // bucket_samples) * bucket_samples)
    if pad_to is not None:
        if pad_to < lengths.max():
            raise ValueError(f"pad_to {pad_to} is shorter than the longest clip ({lengths.max()} samples)")
        padded = int(pad_to)
    batch = np.zeros((len(clips), padded), np.float32)
    for row, clip in zip(batch, clips):
        row[: len(clip)] = clip
    return batch, lengths


class Predictor:
    """Runs a VoiceEmo model on host numpy audio. Thread-compatible, not thread-safe."""

    def __init__(
        self,
        model: VoiceEmo,
        *,
        bucket_seconds: float = DEFAULT_BUCKET_SECONDS,
        window: WindowConfig | None = DEFAULT_WINDOW,
        dtype=None,
        devices: Sequence[jax.Device] | None = None,
        rest_in_pauses: bool | None = None,
        close_in_dips: bool | None = None,
    ):
        """window: clips longer than window.window_seconds run windowed; None: never.
        dtype: "float32" (default) or "bfloat16" (or the jnp dtype). devices: the devices a
        batch is split over (default: every local device). rest_in_pauses, close_in_dips: gate the
        jaw and mouth opening to rest in pauses, to close in the level's dips (inference/pauses.py);
        None: as the model's config says."""
        self.rest_in_pauses = pauses.resolve(model.config, "rest_in_pauses", rest_in_pauses)
        self.close_in_dips = pauses.resolve(model.config, "close_in_dips", close_in_dips)
        self.dtype = compute_dtype(dtype)
        model = with_dtype(model, self.dtype)
        self.model = model
        self.config = model.config
        devices = list(devices) if devices is not None else jax.local_devices()
        self.mesh = jax.make_mesh((len(devices),), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)
        self.batch_sharding = NamedSharding(self.mesh, P("data"))
        # Host (numpy) leaves would be copied to the device on every call (2.4 GB at release
        # size); moved once here, replicated on every device, for this predictor's window
        # engine and decoder too.
        nnx.update(model, jax.device_put(nnx.state(model), NamedSharding(self.mesh, P())))
        self.graphdef, self.params = nnx.split(model)
        self.bucket_samples = max(1, int(round(bucket_seconds * self.config.sample_rate_hz)))
        self.window = window
        self._engine = None

    @classmethod
    def from_checkpoint(cls, ckpt_dir: str | os.PathLike, **kwargs) -> Predictor:
        model, _ = checkpoint_io.load_model(ckpt_dir)
        return cls(model, **kwargs)

    @property
    def num_devices(self) -> int:
        """Devices a batch is split over: batch sizes are best a multiple of this."""
        return self.mesh.size

    def batch_rows(self, batch_size: int) -> int:
        """`batch_size` rounded up to a multiple of the device count."""
        return -(-int(batch_size) // self.num_devices) * self.num_devices

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        return self.config.emotion_labels

    @property
    def output_dim(self) -> int:
        return self.config.synthesizer.output_dim

    def check_controls(self, level: int, person: int) -> None:
        synth = self.config.synthesizer
        if not 0 <= level < synth.num_levels:
            raise UserError(f"--level {level} is out of range: this model has levels 0..{synth.num_levels - 1}")
        if not 0 <= person < synth.num_persons:
            raise UserError(f"--person {person} is out of range: this model has persons 0..{synth.num_persons - 1}")

    def needs_window(self, num_samples: int) -> bool:
        return self.window is not None and num_samples > self.window.window_samples

    @property
    def engine(self) -> WindowEngine:
        """The compiled window encoder for `self.window` (built on first use)."""
        if self.window is None:
            raise ValueError("this predictor has windowing turned off (window=None)")
        if self._engine is None:
            self._engine = WindowEngine(
                self.model, self.window, rest_in_pauses=self.rest_in_pauses, close_in_dips=self.close_in_dips
            )
        return self._engine

    def emotion_track(self, emotion_audio: np.ndarray, num_frames: int) -> np.ndarray:
        """The emotion encoder's hidden states of `emotion_audio`, encoded window by window
        at its own length, then linearly resampled (align_corners) to `num_frames` frames:
        [num_frames, He]. The transplanted emotion of a windowed prediction."""
        windows = plan_windows(len(emotion_audio), self.window)
        encoded = self.engine.encode(windows, lambda w: emotion_audio[w.start_sample : w.end_sample])
        track = np.concatenate([emotion for _, emotion in encoded])
        resampled = sequence_ops.linear_resample(
            jnp.asarray(track[None]),
            jnp.asarray([len(track)]),
            jnp.asarray([num_frames]),
            num_frames,
        )
        return np.asarray(resampled[0])

    def predict_long(
        self,
        audio: np.ndarray,
        *,
        level: int,
        person: int,
        emotion_audio: np.ndarray | None = None,
        name: str = "audio",
    ) -> Prediction:
        """One clip of any length through overlapping windows (see `windows.py`)."""
        check_audio(audio, min_samples=self.config.min_samples, name=name)
        self.check_controls(level, person)
        track = None
        if emotion_audio is not None:
            check_audio(emotion_audio, min_samples=self.config.min_samples, name=f"emotion audio for {name}")
            track = self.emotion_track(emotion_audio, sequence_ops.frames_for(len(audio)))
        outputs, logits = predict_windowed(self.engine, audio, level=level, person=person, emotion_track=track)
        return Prediction(np.asarray(outputs, np.float32), np.asarray(logits, np.float32), self.emotion_labels, True)

    def predict_batch(
        self,
        clips: Sequence[np.ndarray],
        *,
        levels: Sequence[int],
        persons: Sequence[int],
        emotion_clips: Sequence[np.ndarray] | None = None,
        names: Sequence[str] | None = None,
        pad_to: int | None = None,
        emotion_pad_to: int | None = None,
    ) -> list[Prediction]:
        """Each clip: [samples] float32 at 16 kHz. Returns one Prediction per clip, [T_i, D].

        pad_to / emotion_pad_to: pad to exactly this many samples (a static shape chosen by
        the caller) instead of the next multiple of the bucket size. The batch runs split
        over `num_devices`, with rows added (and dropped again) to fill the last device.
        """
        names = names or [f"clip {i}" for i in range(len(clips))]
        for clip, name, level, person in zip(clips, names, levels, persons):
            check_audio(clip, min_samples=self.config.min_samples, name=name)
            self.check_controls(level, person)
        audio, lengths = pad_batch(clips, self.bucket_samples, pad_to)
        if emotion_clips is None:
            emo_audio, emo_lengths = audio, lengths
        else:
            for clip, name in zip(emotion_clips, names):
                check_audio(clip, min_samples=self.config.min_samples, name=f"emotion audio for {name}")
            emo_audio, emo_lengths = pad_batch(emotion_clips, self.bucket_samples, emotion_pad_to)
        rows = self.batch_rows(len(clips))
        inputs = (audio, lengths, np.asarray(levels, np.int32), np.asarray(persons, np.int32), emo_audio, emo_lengths)
        inputs = [jax.device_put(_fill_rows(x, rows), self.batch_sharding) for x in inputs]
        outputs, logits = _forward(self.graphdef, self.params, *inputs)
        outputs, logits = np.asarray(outputs), np.asarray(logits)
        predictions = []
        for i, (clip, n) in enumerate(zip(clips, lengths)):
            clip_outputs = pauses.gate_as(self, outputs[i, : sequence_ops.frames_for(n)].copy(), clip)
            predictions.append(Prediction(clip_outputs, logits[i].copy(), self.emotion_labels))
        return predictions

    def predict(
        self,
        audio: np.ndarray,
        *,
        level: int = 1,
        person: int = 1,
        emotion_audio: np.ndarray | None = None,
        name: str = "audio",
    ) -> Prediction:
        """One clip [samples] -> Prediction with outputs [ceil(seconds * 30), D]; windowed when
        the clip, or the emotion clip, is longer than the window."""
        longest = max(len(audio), 0 if emotion_audio is None else len(emotion_audio))
        if self.needs_window(longest):
            return self.predict_long(audio, level=level, person=person, emotion_audio=emotion_audio, name=name)
        emotion = None if emotion_audio is None else [emotion_audio]
        return self.predict_batch([audio], levels=[level], persons=[person], emotion_clips=emotion, names=[name])[0]
