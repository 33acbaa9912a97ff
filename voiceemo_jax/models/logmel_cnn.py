"""Log-mel CNN encoders: the emotion branch, or the content encoder's front end, of models trained
from scratch on little data.

The release's emotion encoder is a pre-trained wav2vec2. Trained from scratch on a few thousand
real clips, a small wav2vec2 learns the training voices and reads few of an unseen speaker's
emotions; a small CNN over a log-mel spectrogram, whose front end is fixed rather than learnt,
generalises much better from the same data (`benchmarks/emotion_probe.py`; BENCHMARKS.md, "The
emotion encoder alone on real speech"). It keeps the emotion encoder's contract, so everything
downstream is unchanged:

    audio [B, S] --log-mel (25 ms / 10 ms, per-clip normalised)--> [B, F, M]
      --SpecAugment (training only)--> 4 x (conv 3x3, group norm, relu, max-pool 2x2)
      --mean over mel bands, dense--> [B, F/16, H] --linear resample--> [B, T, H] at 30 fps
      --pool over frames--> classification head --> logits [B, labels]

H is the emotion config's hidden size and the head is the wav2vec2 encoder's (`ClassificationHead`),
so the morph synthesizer, the windowed predictor's pooling and the training objectives see the same
shapes as with a wav2vec2. The spectrogram is normalised by its own mean and deviation over the
clip's speech span, from its first to its last sound (a clip's loudness and the silence around it
do not matter), padded frames are zero, and the classifier pools the frames of the speech span.
Long audio run in windows (`voiceemo predict`, `Streamer`) pools every window's frames instead,
silence included, as it does for a wav2vec2 encoder.

`LogMelContentEncoder` (model.content_frontend=logmel_cnn) puts the same kind of CNN, pooling over
mel bands only so that it keeps 100 frames per second, in place of the content wav2vec2's CNN over
the waveform; each mel band is centred over the clip's speech span first (`centre_bands`), and the
wav2vec2's transformer follows as before. Its frames become 30 fps frames on the clock
(`LogMelCNNConfig.time_aligned`, `to_output_frames`): frame f reads the spectrogram at f / 30 s. The
emotion encoder, and content encoders saved before the option, stretch them end to end instead
(align_corners, as the release's wav2vec2 front ends do), which reads frame f up to 1/30 s late
towards a clip's end.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import librosa
import numpy as np
from flax import nnx

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.encoders import ClassificationHead, pool_frames
from voiceemo_jax.models.wav2vec2 import Wav2Vec2Config, Wav2Vec2Model

POOLS = 4  # 2x2 max-pools: the CNN's frame rate is the spectrogram's / 16


@dataclasses.dataclass(frozen=True)
class LogMelCNNConfig:
    channels: tuple[int, ...] = (32, 64, 128, 128)
    num_mels: int = 64
    fft_size: int = 400  # 25 ms at 16 kHz
    hop: int = 160  # 10 ms: 100 spectrogram frames per second
    fmin_hz: float = 50.0
    fmax_hz: float = 8000.0
    groups: int = 8  # group norm groups per conv layer
    # Frames quieter than this below a clip's loudest, before its first and after its last sound,
    # are silence: they do not count in the clip's normalisation or its emotion.
    trim_db: float = 35.0
    # SpecAugment while training: one band of up to this many mel bins and one span of up to this
    # many frames per clip are set to the mean (0).
    max_mel_mask: int = 10
    max_time_mask: int = 30
    # How the CNN's frames become 30 fps frames. True: on the clock (`to_output_frames`), output
    # frame f is the CNN's features at f / 30 s, whatever the clip's length. False (checkpoints from
    # before the option): stretched end to end (`linear_resample`, align_corners), which places
    # frame f up to one 30 fps frame late towards the clip's end: its last frame reads the audio's
    # end, 1/30 s after that frame's time. So a frame's features depended on how much audio
    # followed it, and a stream's windows, which emit frames 0.6-0.9 s before their end, read them
    # later than a whole-clip run did (BENCHMARKS.md, "Real speech").
    time_aligned: bool = False

    def __post_init__(self):
        if len(self.channels) != POOLS:
            raise ValueError(f"LogMelCNNConfig.channels needs {POOLS} conv widths, got {self.channels}")
        if any(c % self.groups for c in self.channels):
            raise ValueError(f"every conv width must divide into {self.groups} groups, got {self.channels}")
        if self.num_mels < 2**POOLS:
            raise ValueError(f"num_mels must be at least {2**POOLS}, got {self.num_mels}")

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["channels"] = list(self.channels)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LogMelCNNConfig:
        values = dict(values)
        values["channels"] = tuple(values["channels"])
        return cls(**values)


@functools.lru_cache(maxsize=8)
def _mel_basis(num_mels: int, fft_size: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """[fft_size // 2 + 1, num_mels] float32: librosa's (Slaney) mel filters, transposed."""
    basis = librosa.filters.mel(
        sr=sequence_ops.SAMPLE_RATE_HZ, n_fft=fft_size, n_mels=num_mels, fmin=fmin_hz, fmax=fmax_hz
    )
    return np.ascontiguousarray(basis.T, dtype=np.float32)


def spectrogram_frames(num_samples, hop: int):
    """Spectrogram frames of `num_samples` samples (centred frames, as librosa's center=True)."""
    return 1 + num_samples // hop


def log_mel(
    audio: jax.Array, num_samples: jax.Array, config: LogMelCNNConfig
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """audio [B, S] float, zero past num_samples -> (normalised log-mel [B, F, M] float32, lengths [B],
    speech span [B, 2]: the first and one past the last spectrogram frame of sound).

    The power spectrogram of centred, zero-padded Hann frames (librosa's melspectrogram with
    center=True) through the mel filters, log(x + 1e-6), then each clip shifted and scaled by the
    mean and deviation of its speech span: the frames from its first to its last one within
    `trim_db` of its loudest (leading and trailing silence do not count, as librosa's trim); frames
    past a clip's length are 0.
    """
    audio = audio.astype(jnp.float32)
    pad = config.fft_size // 2
    padded = jnp.pad(audio, ((0, 0), (pad, pad)))
    num_frames = spectrogram_frames(audio.shape[1], config.hop)
    index = np.arange(num_frames)[:, None] * config.hop + np.arange(config.fft_size)[None, :]
    window = np.hanning(config.fft_size + 1)[:-1].astype(np.float32)  # periodic Hann, as librosa
    power = jnp.abs(jnp.fft.rfft(padded[:, index] * window, axis=-1)) ** 2
    mel = power @ _mel_basis(config.num_mels, config.fft_size, config.fmin_hz, config.fmax_hz)
    lengths = jnp.minimum(spectrogram_frames(num_samples, config.hop), num_frames)
    valid = sequence_ops.length_mask(lengths, num_frames)
    span = speech_span(jnp.sum(mel, axis=-1), valid, config.trim_db)
    mel = jnp.log(mel + 1e-6)
    speech = span_mask(span, num_frames)[..., None]
    count = jnp.maximum(span[:, 1] - span[:, 0], 1)[:, None, None] * config.num_mels
    mean = jnp.sum(jnp.where(speech, mel, 0.0), axis=(1, 2), keepdims=True) / count
    var = jnp.sum(jnp.where(speech, (mel - mean) ** 2, 0.0), axis=(1, 2), keepdims=True) / count
    return jnp.where(valid[..., None], (mel - mean) / (jnp.sqrt(var) + 1e-3), 0.0), lengths, span


def speech_span(energy: jax.Array, valid: jax.Array, trim_db: float) -> jax.Array:
    """energy [B, F] (power per frame), valid [B, F] bool -> [B, 2] int: the first and one past the
    last valid frame within `trim_db` of the clip's loudest (all valid frames of a silent clip)."""
    level = 10.0 * jnp.log10(jnp.maximum(energy, 1e-10))
    loudest = jnp.max(jnp.where(valid, level, -jnp.inf), axis=1, keepdims=True)
    sound = valid & (level >= loudest - trim_db)
    positions = jnp.arange(energy.shape[1])[None, :]
    first = jnp.min(jnp.where(sound, positions, energy.shape[1]), axis=1)
    last = jnp.max(jnp.where(sound, positions, -1), axis=1)
    lengths = jnp.sum(valid, axis=1)
    found = last >= first
    return jnp.stack([jnp.where(found, first, 0), jnp.where(found, last + 1, lengths)], axis=1)


def span_mask(span: jax.Array, size: int) -> jax.Array:
    """span [B, 2] (first, one past the last) -> [B, size] bool, True inside the span."""
    positions = jnp.arange(size)[None, :]
    return (positions >= span[:, :1]) & (positions < span[:, 1:])


def spec_augment(mel: jax.Array, lengths: jax.Array, config: LogMelCNNConfig, key: jax.Array) -> jax.Array:
    """One mel band (< max_mel_mask bins) and one time span (< max_time_mask frames) per clip set to 0."""
    batch, frames, bins = mel.shape
    k_width, k_start, k_span, k_begin = jax.random.split(key, 4)
    width = jax.random.randint(k_width, (batch, 1), 0, config.max_mel_mask)
    start = jax.random.randint(k_start, (batch, 1), 0, bins - width + 1)
    band = (jnp.arange(bins)[None] >= start) & (jnp.arange(bins)[None] < start + width)
    span = jax.random.randint(k_span, (batch, 1), 0, config.max_time_mask)
    begin = jax.random.randint(k_begin, (batch, 1), 0, jnp.maximum(lengths[:, None] - span, 0) + 1)
    spans = (jnp.arange(frames)[None] >= begin) & (jnp.arange(frames)[None] < begin + span)
    return jnp.where(band[:, None, :] | spans[:, :, None], 0.0, mel)


class LogMelCNN(nnx.Module):
    """Normalised log-mel [B, F, M] -> [B, F / 16, H] features (`pool_time`), or [B, F, H]: pooled
    over mel bands only, the bands' activations then concatenated, keeping 100 frames per second
    (the content encoder's front end, whose features must follow the phones)."""

    def __init__(self, config: LogMelCNNConfig, hidden_size: int, *, pool_time=True, dtype=None, rngs: nnx.Rngs):
        widths = (1, *config.channels)
        self.convs = nnx.List(
            [nnx.Conv(widths[i], widths[i + 1], (3, 3), dtype=dtype, rngs=rngs) for i in range(POOLS)]
        )
        self.norms = nnx.List(
            [nnx.GroupNorm(c, num_groups=config.groups, dtype=dtype, rngs=rngs) for c in config.channels]
        )
        self.pool_time = pool_time
        inputs = config.channels[-1] if pool_time else config.channels[-1] * (config.num_mels // 2**POOLS)
        self.projection = nnx.Linear(inputs, hidden_size, dtype=dtype, rngs=rngs)

    def __call__(self, mel: jax.Array, lengths: jax.Array, span: jax.Array) -> tuple[jax.Array, jax.Array]:
        """mel [B, F, M] (F a multiple of 16 when pooling over time), zero past `lengths` [B]; span
        [B, 2]: the speech frames (`log_mel`) -> (features [B, F / 16 or F, H], their lengths [B]).

        Group norm statistics cover a clip's speech span only (silence around it changes nothing
        inside it beyond the convolutions' reach) and activations past a clip's length are zeroed
        after every layer, so a clip gives the same features however far it is padded.
        """
        x = mel[..., None]
        time_pool = 2 if self.pool_time else 1
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x)
            valid = sequence_ops.length_mask(lengths, x.shape[1])[:, :, None, None]
            speech = span_mask(span, x.shape[1])[:, :, None, None]
            x = jnp.where(valid, nnx.relu(norm(x, mask=jnp.broadcast_to(speech & valid, x.shape))), 0.0)
            x = nnx.max_pool(x, (time_pool, 2), (time_pool, 2))
            lengths = -(-lengths // time_pool)
            span = jnp.stack([span[:, 0] // time_pool, -(-span[:, 1] // time_pool)], axis=1)
        x = jnp.mean(x, axis=2) if self.pool_time else x.reshape(x.shape[0], x.shape[1], -1)
        return self.projection(x), jnp.maximum(lengths, 1)


class LogMelContentEncoder(nnx.Module):
    """audio -> content features [batch, frames, hidden] at 30 fps, as `encoders.ContentEncoder`,
    with the wav2vec2's CNN replaced by a log-mel CNN that keeps 100 frames per second.

    Each mel band is also centred on its mean over the clip's speech span (`centre_bands`, cepstral
    mean normalisation: a fixed colouration of the channel, a microphone or a room, is a constant
    per band in the log domain and goes). SpecAugment masks mel bands only while training (a
    masked span of frames would hide the phones the targets follow). The CNN's features, projected
    to the wav2vec2's CNN width, are resampled to 30 fps and go through the wav2vec2's feature
    projection and transformer (`content` config), as the CNN's would.
    """

    def __init__(self, config: LogMelCNNConfig, content: Wav2Vec2Config, *, dtype=None, remat=False, rngs: nnx.Rngs):
        self.config = config
        self.cnn = LogMelCNN(config, content.conv_dim[-1], pool_time=False, dtype=dtype, rngs=rngs)
        self.wav2vec2 = Wav2Vec2Model(content, feature_extractor=False, dtype=dtype, remat=remat, rngs=rngs)

    def __call__(self, audio, num_samples, num_frames, max_frames: int, *, deterministic=True, rngs=None):
        """audio: [batch, samples]; num_samples, num_frames: [batch] int; -> [batch, max_frames, hidden]."""
        mel, lengths, span = log_mel(audio, num_samples, self.config)
        mel = centre_bands(mel, lengths, span)
        if not deterministic and rngs is not None:
            mel = spec_augment(mel, lengths, self.config, rngs.dropout())
        features, feature_lengths = self.cnn(mel, lengths, span)
        features = to_output_frames(features, feature_lengths, num_frames, max_frames, self.config, time_pool=1)
        return self.wav2vec2.encode(features, num_frames, deterministic=deterministic, rngs=rngs)


def centre_bands(mel: jax.Array, lengths: jax.Array, span: jax.Array) -> jax.Array:
    """Normalised log-mel [B, F, M] (`log_mel`) -> each band less its mean over the speech span,
    then the whole scaled to unit deviation over the span; zero past `lengths`.

    A constant added to a band of the log spectrogram (a fixed filter: the microphone, the room's
    colouration) changes nothing.
    """
    frames = mel.shape[1]
    valid = sequence_ops.length_mask(lengths, frames)[..., None]
    speech = span_mask(span, frames)[..., None] & valid
    count = jnp.maximum(span[:, 1] - span[:, 0], 1)[:, None, None].astype(mel.dtype)
    centred = mel - jnp.sum(jnp.where(speech, mel, 0.0), axis=1, keepdims=True) / count
    var = jnp.sum(jnp.where(speech, centred**2, 0.0), axis=(1, 2), keepdims=True) / (count * mel.shape[2])
    return jnp.where(valid, centred / (jnp.sqrt(var) + 1e-3), 0.0)


def content_config() -> LogMelCNNConfig:
    """The content encoder's log-mel CNN: narrower than the emotion encoder's (it runs at 100
    frames per second, not 6), SpecAugment masks no frames (`max_time_mask` 1: spans < 1), and its
    frames are placed on the clock (`time_aligned`)."""
    return LogMelCNNConfig(channels=(16, 32, 32, 32), max_time_mask=1, time_aligned=True)


class LogMelEmotionEncoder(nnx.Module):
    """audio -> (emotion features [batch, frames, hidden] at 30 fps, logits [batch, labels]).

    `head` (a Wav2Vec2Config) gives the hidden size, labels, pooling and the head's dropout.
    """

    def __init__(self, config: LogMelCNNConfig, head: Wav2Vec2Config, *, dtype=None, rngs: nnx.Rngs):
        if head.num_labels < 1:
            raise ValueError("the emotion encoder's config needs id2label (its emotion labels)")
        self.config = config
        self.cnn = LogMelCNN(config, head.hidden_size, dtype=dtype, rngs=rngs)
        self.classifier = ClassificationHead(head, dtype=dtype, rngs=rngs)
        self.pooling_mode = head.pooling_mode

    def __call__(self, audio, num_samples, num_frames, max_frames: int, *, deterministic=True, rngs=None):
        """audio: [batch, samples]; num_samples, num_frames: [batch] int.

        -> (hidden [batch, max_frames, H] zero past num_frames, logits [batch, num_labels]).
        """
        mel, lengths, span = log_mel(audio, num_samples, self.config)
        if not deterministic and rngs is not None:
            mel = spec_augment(mel, lengths, self.config, rngs.dropout())
        stride = 2**POOLS
        padded = max(stride, -(-mel.shape[1] // stride) * stride)  # whole pooling windows, at least one
        mel = jnp.pad(mel, ((0, 0), (0, padded - mel.shape[1]), (0, 0)))
        features, feature_lengths = self.cnn(mel, lengths, span)
        # Zero past num_frames (linear_resample's own contract).
        hidden = to_output_frames(features, feature_lengths, num_frames, max_frames, self.config, time_pool=stride)
        mask = sequence_ops.length_mask(num_frames, max_frames)
        pooled = pool_frames(hidden, speech_frames(span, mask, self.config.hop), self.pooling_mode)
        logits = self.classifier(pooled, deterministic=deterministic, rngs=rngs)
        return hidden, logits


def to_output_frames(
    features: jax.Array, lengths: jax.Array, num_frames: jax.Array, max_frames: int, config: LogMelCNNConfig,
    *, time_pool: int,
) -> jax.Array:  # fmt: skip
    """The CNN's features [B, F, H] (F spectrogram frames / time_pool, `lengths` valid) -> float32
    [B, max_frames, H] at 30 fps, zero past num_frames.

    config.time_aligned: on the clock. Spectrogram frame i is centred on i * hop samples, and a
    CNN frame pooled over time_pool of them on the middle one, (k + (time_pool - 1) / 2) * time_pool;
    output frame f, which shows f / 30 s, reads position f * (16000 / hop / 30) / time_pool
    - (time_pool - 1) / (2 * time_pool) (linear interpolation, held at either end). Otherwise the
    frames are stretched end to end (`sequence_ops.linear_resample`).
    """
    features = features.astype(jnp.float32)
    if not config.time_aligned:
        return sequence_ops.linear_resample(features, lengths, num_frames, max_frames)
    offset = (time_pool - 1) / (2 * time_pool)
    step = spectrogram_frames_per_output_frame(config.hop) / time_pool
    return sequence_ops.resample_at_times(features, lengths, num_frames, max_frames, step, offset)


def spectrogram_frames_per_output_frame(hop: int) -> float:
    """The clock between spectrogram frames (frame i at i * hop samples) and 30 fps output frames
    (frame f at f / 30 s): output frame f sits at spectrogram frame f times this."""
    return sequence_ops.SAMPLE_RATE_HZ / hop / sequence_ops.FPS


def speech_frames(span: jax.Array, mask: jax.Array, hop: int) -> jax.Array:
    """The output frames (30 fps, `mask` [B, T] their valid ones) whose time falls in the speech
    span [B, 2] of spectrogram frames; a clip none of whose frames does keeps all of them."""
    position = jnp.arange(mask.shape[1])[None, :] * spectrogram_frames_per_output_frame(hop)
    inside = mask & (position >= span[:, :1] - 0.5) & (position < span[:, 1:] + 0.5)
    return jnp.where(jnp.any(inside, axis=1, keepdims=True), inside, mask)
