"""The full model: emotion-separating encoder + morph synthesizer.

    audio [B, S] --content_encoder--> [B, T, Hc] --+
                                                    +--morph_synthesizer--> [B, T, 52 | V*3]
    audio' [B, S'] --emotion_encoder--> [B, T, He] -+        (+ level, person)
                                   \\--> logits [B, labels]

T = ceil(S / 16000 * 30) per item; `audio'` is the content audio itself, or another clip
whose emotion is transplanted (resampled to the content clip's T frames).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.encoders import ContentEncoder, EmotionEncoder
from voiceemo_jax.models.logmel_cnn import LogMelCNNConfig, LogMelContentEncoder, LogMelEmotionEncoder
from voiceemo_jax.models.morph_synthesizer import MorphSynthesizer, MorphSynthesizerConfig
from voiceemo_jax.models.wav2vec2 import Wav2Vec2Config


@dataclasses.dataclass(frozen=True)
class VoiceEmoConfig:
    content: Wav2Vec2Config
    emotion: Wav2Vec2Config
    synthesizer: MorphSynthesizerConfig = MorphSynthesizerConfig()
    # Set: the emotion encoder is a log-mel CNN (models/logmel_cnn.py) and `emotion` gives only its
    # hidden size, labels, pooling and head; None: the emotion wav2vec2 `emotion` describes.
    emotion_cnn: LogMelCNNConfig | None = None
    # Set: the content encoder's front end is a log-mel CNN in place of the wav2vec2's CNN
    # (models/logmel_cnn.py `LogMelContentEncoder`); `content` gives the rest of the encoder.
    content_cnn: LogMelCNNConfig | None = None
    sample_rate_hz: int = sequence_ops.SAMPLE_RATE_HZ
    fps: int = sequence_ops.FPS
    # Inference only (`Predictor`, `Streamer`; not the model's forward pass or training): the jaw and
    # mouth-opening channels are gated to rest in long quiet stretches, and to close in the level's
    # dips (inference/pauses.py). ARKit only.
    rest_in_pauses: bool = False
    close_in_dips: bool = False

    def __post_init__(self):
        for name in ("rest_in_pauses", "close_in_dips"):
            if getattr(self, name) and self.synthesizer.output_dim != NUM_BLENDSHAPES:
                raise ValueError(f"{name} needs the {NUM_BLENDSHAPES} ARKit outputs, not {self.synthesizer.output_dim}")

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        return self.emotion.id2label

    @property
    def min_samples(self) -> int:
        """Shortest audio both encoders can use: the content CNN must emit one frame and the
        emotion encoder's internal int(T50 * 3 / 5) length must be >= 1, i.e. T50 >= 2
        (720 samples = 45 ms for the standard CNN). A log-mel CNN takes any length."""
        content_min = self.content.receptive_field if self.content_cnn is None else 1
        if self.emotion_cnn is not None:
            return content_min
        stride = int(np.prod(self.emotion.conv_stride))
        emotion_cnn_frames = 1
        while sequence_ops.emotion_mid_length(emotion_cnn_frames) < 1:
            emotion_cnn_frames += 1
        emotion_min = self.emotion.receptive_field + (emotion_cnn_frames - 1) * stride
        return max(content_min, emotion_min)

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content.to_dict(),
            "emotion": self.emotion.to_dict(),
            "synthesizer": self.synthesizer.to_dict(),
            "emotion_cnn": None if self.emotion_cnn is None else self.emotion_cnn.to_dict(),
            "content_cnn": None if self.content_cnn is None else self.content_cnn.to_dict(),
            "sample_rate_hz": self.sample_rate_hz,
            "fps": self.fps,
            "rest_in_pauses": self.rest_in_pauses,
            "close_in_dips": self.close_in_dips,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VoiceEmoConfig:
        return cls(
            content=Wav2Vec2Config.from_dict(values["content"]),
            emotion=Wav2Vec2Config.from_dict(values["emotion"]),
            synthesizer=MorphSynthesizerConfig(**values["synthesizer"]),
            emotion_cnn=None if values.get("emotion_cnn") is None else LogMelCNNConfig.from_dict(values["emotion_cnn"]),
            content_cnn=None if values.get("content_cnn") is None else LogMelCNNConfig.from_dict(values["content_cnn"]),
            sample_rate_hz=values.get("sample_rate_hz", sequence_ops.SAMPLE_RATE_HZ),
            fps=values.get("fps", sequence_ops.FPS),
            rest_in_pauses=bool(values.get("rest_in_pauses", False)),
            close_in_dips=bool(values.get("close_in_dips", False)),
        )


class VoiceEmo(nnx.Module):
    def __init__(
        self,
        config: VoiceEmoConfig,
        *,
        freeze_feature_encoder: bool = True,
        dtype=None,
        remat: bool = False,
        rngs: nnx.Rngs,
    ):
        if (config.sample_rate_hz, config.fps) != (sequence_ops.SAMPLE_RATE_HZ, sequence_ops.FPS):
            raise ValueError("only 16 kHz audio and 30 fps output are supported")
        self.config = config
        kw = dict(freeze_feature_encoder=freeze_feature_encoder, dtype=dtype, remat=remat, rngs=rngs)
        if config.content_cnn is None:
            self.content_encoder = ContentEncoder(config.content, **kw)
        else:
            self.content_encoder = LogMelContentEncoder(
                config.content_cnn, config.content, dtype=dtype, remat=remat, rngs=rngs
            )
        if config.emotion_cnn is None:
            self.emotion_encoder = EmotionEncoder(config.emotion, **kw)
        else:
            self.emotion_encoder = LogMelEmotionEncoder(config.emotion_cnn, config.emotion, dtype=dtype, rngs=rngs)
        self.morph_synthesizer = MorphSynthesizer(
            config.synthesizer, config.content.hidden_size, config.emotion.hidden_size, dtype=dtype, rngs=rngs
        )

    def __call__(
        self,
        audio: jax.Array,
        num_samples: jax.Array,
        level: jax.Array,
        person: jax.Array,
        *,
        emotion_audio: jax.Array | None = None,
        emotion_num_samples: jax.Array | None = None,
        num_frames: jax.Array | None = None,
        max_frames: int | None = None,
        deterministic: bool = True,
        rngs: nnx.Rngs | None = None,
    ) -> dict[str, jax.Array]:
        """audio: [B, S] float32 16 kHz; num_samples: [B] int; level, person: [B] int.

        Returns {"outputs": [B, T, D] (zero past num_frames), "emotion_logits": [B, labels],
        "num_frames": [B]}. T defaults to frames_for(S), num_frames to frames_for(num_samples).
        """
        if max_frames is None:
            max_frames = sequence_ops.frames_for(audio.shape[1])
        if num_frames is None:
            num_frames = sequence_ops.frames_for_array(num_samples)
        num_frames = jnp.minimum(num_frames, max_frames)
        kw = dict(deterministic=deterministic, rngs=rngs)
        content = self.content_encoder(audio, num_samples, num_frames, max_frames, **kw)
        if emotion_audio is None:
            emotion_audio, emotion_num_samples = audio, num_samples
        emotion, logits = self.emotion_encoder(emotion_audio, emotion_num_samples, num_frames, max_frames, **kw)
        outputs = self.morph_synthesizer(content, emotion, level, person, num_frames, **kw)
        return {"outputs": outputs, "emotion_logits": logits, "num_frames": num_frames}
