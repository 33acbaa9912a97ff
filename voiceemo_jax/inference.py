"""Inference: a jit-compiled predictor over padded, length-bucketed batches.

Audio is padded up to a multiple of `bucket_samples` so that a stream of clips of
different lengths compiles a handful of programs, not one per length; the padding masks
make the padded result identical to the unpadded one.
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

from voiceemo_jax import checkpoint_io
from voiceemo_jax.audio import check_audio
from voiceemo_jax.errors import UserError
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.voiceemo import VoiceEmo

DEFAULT_BUCKET_SECONDS = 1.0


@dataclasses.dataclass
class Prediction:
    outputs: np.ndarray  # [T, D] float32, T = ceil(seconds * 30)
    emotion_logits: np.ndarray  # [labels] float32
    emotion_labels: tuple[str, ...]

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
    return result["outputs"], result["emotion_logits"]


def pad_batch(clips: Sequence[np.ndarray], bucket_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Clips -> ([B, S] zero-padded, S a multiple of bucket_samples; [B] lengths)."""
    lengths = np.array([len(c) for c in clips], np.int32)
    padded = int(-(-lengths.max() // bucket_samples) * bucket_samples)
    batch = np.zeros((len(clips), padded), np.float32)
    for row, clip in zip(batch, clips):
        row[: len(clip)] = clip
    return batch, lengths


class Predictor:
    """Runs a VoiceEmo model on host numpy audio. Thread-compatible, not thread-safe."""

    def __init__(self, model: VoiceEmo, *, bucket_seconds: float = DEFAULT_BUCKET_SECONDS):
        self.config = model.config
        self.graphdef, self.params = nnx.split(model)
        self.bucket_samples = max(1, int(round(bucket_seconds * self.config.sample_rate_hz)))

    @classmethod
    def from_checkpoint(cls, ckpt_dir: str | os.PathLike, **kwargs) -> Predictor:
        model, _ = checkpoint_io.load_model(ckpt_dir)
        return cls(model, **kwargs)

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

    def predict_batch(
        self,
        clips: Sequence[np.ndarray],
        *,
        levels: Sequence[int],
        persons: Sequence[int],
        emotion_clips: Sequence[np.ndarray] | None = None,
        names: Sequence[str] | None = None,
    ) -> list[Prediction]:
        """Each clip: [samples] float32 at 16 kHz. Returns one Prediction per clip, [T_i, D]."""
        names = names or [f"clip {i}" for i in range(len(clips))]
        for clip, name, level, person in zip(clips, names, levels, persons):
            check_audio(clip, min_samples=self.config.min_samples, name=name)
            self.check_controls(level, person)
        audio, lengths = pad_batch(clips, self.bucket_samples)
        if emotion_clips is None:
            emo_audio, emo_lengths = audio, lengths
        else:
            for clip, name in zip(emotion_clips, names):
                check_audio(clip, min_samples=self.config.min_samples, name=f"emotion audio for {name}")
            emo_audio, emo_lengths = pad_batch(emotion_clips, self.bucket_samples)
        outputs, logits = _forward(
            self.graphdef,
            self.params,
            jnp.asarray(audio),
            jnp.asarray(lengths),
            jnp.asarray(np.asarray(levels, np.int32)),
            jnp.asarray(np.asarray(persons, np.int32)),
            jnp.asarray(emo_audio),
            jnp.asarray(emo_lengths),
        )
        outputs, logits = np.asarray(outputs), np.asarray(logits)
        return [
            Prediction(outputs[i, : sequence_ops.frames_for(n)].copy(), logits[i].copy(), self.emotion_labels)
            for i, n in enumerate(lengths)
        ]

    def predict(
        self,
        audio: np.ndarray,
        *,
        level: int = 1,
        person: int = 1,
        emotion_audio: np.ndarray | None = None,
        name: str = "audio",
    ) -> Prediction:
        """One clip [samples] -> Prediction with outputs [ceil(seconds * 30), D]."""
        emotion = None if emotion_audio is None else [emotion_audio]
        return self.predict_batch([audio], levels=[level], persons=[person], emotion_clips=emotion, names=[name])[0]
