"""Waveform augmentation for training: speed, pauses, room reverberation, band-limiting, noise, gain.

Each op is a small pure-TensorFlow function of one clip, so it runs eagerly (numpy in,
tensors out), inside `tf.data` maps and under `tf.function` alike. Randomness is
stateless: an op draws everything from its `seed` ([2] int32), so the same seed gives
the same output on every run and machine. `audio` is [S] float32 at 16 kHz whose first
`num_samples` are the clip and the rest zero padding; padding stays zero.

    add_noise       white noise at a signal-to-noise ratio drawn from `snr_db`
    reverberate     a synthetic room: exponentially decaying noise impulse response (RT60
                    drawn from `rt60_seconds`) mixed with the direct sound; loudness kept
    random_gain     a gain in dB drawn from `gain_db`, clipped to [-1, 1]
    band_limit      a band-pass (telephone/cheap microphone): smooth edges at cut-offs drawn
                    from `low_hz` and `high_hz`
    change_speed    speed perturbation (tempo and pitch together, as Kaldi's): the audio is
                    resampled by a factor drawn from `factor` and the [T, D] targets are
                    time-warped with it, so lips stay in sync; the length changes (never
                    past the padded length S)
    silence         the clip becomes a pause: low white noise (RMS level in dBFS drawn from
                    `level_db`; digital silence where it is below -100) over the same length,
                    every target frame the clip's first (its rest pose: clips begin in
                    silence), so a window of audio with no speech in it (a long pause of a
                    stream) keeps the mouth shut

`augment_clip` chains them, each with its probability (`AugmentOptions`). Training batches
are numpy dicts built on the host (`input_pipeline.BatchIterator`), so training applies it
per batch: `AugmentedIterator` wraps the batch iterator (`config.data.augment`), seeding
every clip from the run's seed and the batch's position (epoch, batch, process), which makes
a resumed run augment exactly as the uninterrupted one. With `keep_clean` (`config.data.augment_emotion`
false) each clip also keeps its audio as it was, under CLEAN_KEYS, for the emotion encoder: the
content encoder learns from augmented audio while the emotion the decoder is conditioned on is read
from the clean recording, as the frozen emotion encoder of the demo's main stage was trained.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from data_pipelines import tf_setup
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ

tf = tf_setup.tensorflow()

IMPULSE_SECONDS = 0.5  # impulse response length: RT60s up to ~0.8 s are at -37 dB by then
AUDIO_KEYS = ("audio", "num_samples", "targets", "num_frames")
CLEAN_KEYS = {"audio": "emotion_audio", "num_samples": "emotion_num_samples"}
PAUSE_STREAM = 1_000_003  # in the silence op's seed (augment_batch), apart from the clip seeds' indices


def _uniform(seed, low: float, high: float):
    return tf.random.stateless_uniform([], seed, minval=low, maxval=high, dtype=tf.float32)


def _valid(audio, num_samples):
    """[S] 1.0 on the clip, 0.0 on the padding."""
    return tf.sequence_mask(num_samples, tf.shape(audio)[0], dtype=tf.float32)


def _power(audio, num_samples):
    return tf.reduce_sum(tf.square(audio)) / tf.maximum(tf.cast(num_samples, tf.float32), 1.0)


def add_noise(audio, num_samples, seed, snr_db=(10.0, 40.0)):
    """Adds white noise at an SNR (dB, against the clip's mean power) drawn from snr_db: -> [S]."""
    audio = tf.convert_to_tensor(audio, tf.float32)
    snr_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    snr = _uniform(snr_seed, *snr_db)
    noise = tf.random.stateless_normal(tf.shape(audio), noise_seed)
    scale = tf.sqrt(_power(audio, num_samples) / tf.pow(10.0, snr / 10.0))
    return audio + noise * scale * _valid(audio, num_samples)


def random_gain(audio, num_samples, seed, gain_db=(-6.0, 6.0)):
    """Multiplies by a gain drawn from gain_db (dB), clipping to [-1, 1]: -> [S]."""
    audio = tf.convert_to_tensor(audio, tf.float32)
    gain = tf.pow(10.0, _uniform(seed, *gain_db) / 20.0)
    return tf.clip_by_value(audio * gain, -1.0, 1.0) * _valid(audio, num_samples)


def impulse_response(seed, rt60_seconds, wet, sample_rate_hz: int = SAMPLE_RATE_HZ):
    """A synthetic room: [IMPULSE_SECONDS * rate] float32, 1 at t=0 (direct sound) plus a
    Gaussian-noise tail decaying 60 dB in rt60_seconds, scaled so its energy is `wet` times the direct's."""
    length = int(IMPULSE_SECONDS * sample_rate_hz)
    t = tf.range(1, length, dtype=tf.float32) / sample_rate_hz
    tail = tf.random.stateless_normal([length - 1], seed) * tf.exp(-math.log(1000.0) * t / rt60_seconds)
    tail = tail * tf.sqrt(wet / tf.maximum(tf.reduce_sum(tf.square(tail)), 1e-12))
    return tf.concat([[1.0], tail], axis=0)


def reverberate(audio, num_samples, seed, rt60_seconds=(0.15, 0.8), wet=(0.1, 0.8)):
    """Convolves with `impulse_response` (RT60 and wet/direct energy drawn from the ranges),
    cut to the clip's length, at the clip's original loudness: -> [S]."""
    audio = tf.convert_to_tensor(audio, tf.float32)
    rt60_seed, wet_seed, ir_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    ir = impulse_response(ir_seed, _uniform(rt60_seed, *rt60_seconds), _uniform(wet_seed, *wet))
    size = tf.shape(audio)[0]
    # Linear (not circular) convolution: an FFT at least as long as signal + response.
    fft_length = tf.cast(
        2 ** tf.math.ceil(tf.math.log(tf.cast(size + tf.size(ir), tf.float32)) / math.log(2.0)), tf.int32
    )
    spectrum = tf.signal.rfft(audio, [fft_length]) * tf.signal.rfft(ir, [fft_length])
    wet_audio = tf.signal.irfft(spectrum, [fft_length])[:size] * _valid(audio, num_samples)
    gain = tf.sqrt(_power(audio, num_samples) / tf.maximum(_power(wet_audio, num_samples), 1e-12))
    return wet_audio * gain


def band_limit(audio, num_samples, seed, low_hz=(50.0, 400.0), high_hz=(2800.0, 7500.0)):
    """Band-pass with logistic edges (a quarter octave wide) at cut-offs drawn from the ranges: -> [S]."""
    audio = tf.convert_to_tensor(audio, tf.float32)
    low_seed, high_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    low, high = _uniform(low_seed, *low_hz), _uniform(high_seed, *high_hz)
    size = tf.shape(audio)[0]
    spectrum = tf.signal.rfft(audio, [size])
    octaves = tf.math.log(tf.maximum(tf.linspace(0.0, SAMPLE_RATE_HZ / 2, tf.shape(spectrum)[0]), 1.0)) / math.log(2.0)
    slope = 1.0 / 0.25
    gain = tf.sigmoid(slope * (octaves - tf.math.log(low) / math.log(2.0))) * tf.sigmoid(
        slope * (tf.math.log(high) / math.log(2.0) - octaves)
    )
    filtered = tf.signal.irfft(spectrum * tf.cast(gain, tf.complex64), [size])
    return filtered * _valid(audio, num_samples)


def silence(audio, num_samples, targets, num_frames, seed, level_db=(-90.0, -45.0)):
    """The clip replaced by a pause of the same length: white noise at an RMS level (dBFS) drawn
    from `level_db` (below -100 dB: digital silence), and every target frame the clip's first.
    Returns (audio [S], targets [T, D]); padding stays zero."""
    audio = tf.convert_to_tensor(audio, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.float32)
    level_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    level = _uniform(level_seed, *level_db)
    scale = tf.where(level < -100.0, 0.0, tf.pow(10.0, level / 20.0))
    noise = tf.random.stateless_normal(tf.shape(audio), noise_seed) * scale * _valid(audio, num_samples)
    frames = tf.sequence_mask(num_frames, tf.shape(targets)[0], dtype=tf.float32)[:, None]
    return noise, frames * targets[:1]


def _interpolate(values, positions):
    """values [N, ...] at fractional positions [M] (clamped to [0, N-1]), linearly: -> [M, ...]."""
    last = tf.cast(tf.shape(values)[0] - 1, tf.float32)
    positions = tf.clip_by_value(positions, 0.0, last)
    below = tf.floor(positions)
    weight = positions - below
    lower = tf.gather(values, tf.cast(below, tf.int32))
    upper = tf.gather(values, tf.cast(tf.minimum(below + 1.0, last), tf.int32))
    weight = tf.reshape(weight, tf.concat([tf.shape(weight), tf.ones([tf.rank(values) - 1], tf.int32)], 0))
    return lower + (upper - lower) * weight


def change_speed(audio, num_samples, targets, num_frames, seed, factor=(0.9, 1.1)):
    """Speed perturbation of a clip and its targets by a factor drawn from `factor` (> 1 faster).

    audio: [S]; targets: [T, D] (T >= frames of num_samples). Returns (audio [S],
    num_samples, targets [T, D], num_frames): the new clip is round(num_samples / factor)
    samples long, capped at S, with ceil(samples * 30 / 16000) frames; target frame j shows
    source time j * factor / 30 (linear interpolation between frames).
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.float32)
    speed = _uniform(seed, *factor)
    size, frames = tf.shape(audio)[0], tf.shape(targets)[0]
    num_samples = tf.cast(num_samples, tf.int32)
    new_samples = tf.minimum(tf.cast(tf.round(tf.cast(num_samples, tf.float32) / speed), tf.int32), size)
    new_frames = tf.minimum((new_samples * FPS + SAMPLE_RATE_HZ - 1) // SAMPLE_RATE_HZ, frames)
    sample_positions = tf.range(new_samples, dtype=tf.float32) * speed
    new_audio = _interpolate(audio[:num_samples], sample_positions)
    frame_positions = tf.range(new_frames, dtype=tf.float32) * speed
    new_targets = _interpolate(targets[: tf.maximum(tf.cast(num_frames, tf.int32), 1)], frame_positions)
    new_audio = tf.pad(new_audio, [[0, size - new_samples]])
    new_targets = tf.pad(new_targets, [[0, frames - new_frames], [0, 0]])
    return new_audio, new_samples, new_targets, new_frames


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
    """Probability and range of each op; an op with probability 0 never runs."""

    speed_probability: float = 0.5
    speed_factor: tuple[float, float] = (0.9, 1.1)
    reverb_probability: float = 0.3
    rt60_seconds: tuple[float, float] = (0.15, 0.8)
    reverb_wet: tuple[float, float] = (0.1, 0.8)
    band_probability: float = 0.3
    low_hz: tuple[float, float] = (50.0, 400.0)
    high_hz: tuple[float, float] = (2800.0, 7500.0)
    noise_probability: float = 0.5
    snr_db: tuple[float, float] = (10.0, 40.0)
    gain_probability: float = 0.5
    gain_db: tuple[float, float] = (-6.0, 6.0)
    silence_probability: float = 0.0
    silence_level_db: tuple[float, float] = (-90.0, -45.0)


def augment_clip(
    clip: dict[str, Any], seed, options: AugmentOptions = AugmentOptions(), pause_seed=None
) -> dict[str, Any]:
    """The ops in order speed, silence, reverberation, band-limit, noise, gain, each with its
    probability.

    clip: {"audio": [S], "num_samples": [], "targets": [T, D], "num_frames": [], ...}; other
    keys pass through. Returns the same keys as tensors. `pause_seed` ([2] int32) draws the
    silence op (whether, and its level); default: folded from `seed`. The other ops draw from
    `seed` alone, as they did before the silence op existed.
    """
    seeds = tf.unstack(tf.random.experimental.stateless_split(tf.convert_to_tensor(seed, tf.int32), 10))
    audio = tf.convert_to_tensor(clip["audio"], tf.float32)
    num_samples = tf.cast(clip["num_samples"], tf.int32)
    targets = tf.convert_to_tensor(clip["targets"], tf.float32)
    num_frames = tf.cast(clip["num_frames"], tf.int32)

    def chosen(i: int, probability: float):
        return _uniform(seeds[2 * i], 0.0, 1.0) < probability

    if options.speed_probability > 0:
        audio, num_samples, targets, num_frames = tf.cond(
            chosen(0, options.speed_probability),
            lambda: change_speed(audio, num_samples, targets, num_frames, seeds[1], options.speed_factor),
            lambda: (audio, num_samples, targets, num_frames),
        )
    if options.silence_probability > 0:
        if pause_seed is None:
            pause_seed = tf.random.experimental.stateless_fold_in(tf.convert_to_tensor(seed, tf.int32), 10)
        pick, draw = tf.unstack(tf.random.experimental.stateless_split(tf.convert_to_tensor(pause_seed, tf.int32), 2))
        audio, targets = tf.cond(
            _uniform(pick, 0.0, 1.0) < options.silence_probability,
            lambda: silence(audio, num_samples, targets, num_frames, draw, options.silence_level_db),
            lambda: (audio, targets),
        )
    steps = (
        (options.reverb_probability, functools.partial(reverberate, rt60_seconds=options.rt60_seconds,
                                                       wet=options.reverb_wet)),
        (options.band_probability, functools.partial(band_limit, low_hz=options.low_hz, high_hz=options.high_hz)),
        (options.noise_probability, functools.partial(add_noise, snr_db=options.snr_db)),
        (options.gain_probability, functools.partial(random_gain, gain_db=options.gain_db)),
    )  # fmt: skip
    for i, (probability, op) in enumerate(steps, start=1):
        if probability > 0:
            audio = tf.cond(
                chosen(i, probability),
                lambda op=op, x=audio, s=seeds[2 * i + 1]: op(x, num_samples, s),
                lambda x=audio: x,
            )
    return {**clip, "audio": audio, "num_samples": num_samples, "targets": targets, "num_frames": num_frames}


@functools.cache
def _compiled(options: AugmentOptions):
    """augment_clip as one tf.function over any clip length (traced once per options)."""
    signature = (
        tf.TensorSpec([None], tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([2], tf.int32),
        tf.TensorSpec([2], tf.int32),
    )

    @tf.function(input_signature=signature)
    def run(audio, num_samples, targets, num_frames, seed, pause_seed):
        clip = {"audio": audio, "num_samples": num_samples, "targets": targets, "num_frames": num_frames}
        out = augment_clip(clip, seed, options, pause_seed)
        return tuple(out[key] for key in AUDIO_KEYS)

    return run


def clip_seed(*entropy: int) -> np.ndarray:
    """A [2] int32 stateless seed from integers (run seed, epoch, batch, process, clip, row ...)."""
    return np.random.SeedSequence([int(e) for e in entropy]).generate_state(2).astype(np.int32) & 0x7FFFFFFF


def augment_batch(batch: dict[str, dict[str, np.ndarray]], seed: int, position: tuple[int, ...],
                  options: AugmentOptions = AugmentOptions(), *, keep_clean: bool = False,
                  ) -> dict[str, dict[str, np.ndarray]]:  # fmt: skip
    """Augments every row of every clip of a host batch ({"x11": clip, ...} or {"x": clip}).

    Clip arrays as the input pipeline makes them (audio [B, S], num_samples [B], targets
    [B, T, D], num_frames [B], labels ...); shapes are kept (padding stays zero), lengths
    may change (speed). Row r of clip k is seeded by (seed, *position, k, r); the silence op by
    (seed, *position, r, PAUSE_STREAM) alone, so the clips of one row (a triplet's x11, x12 and x21)
    become pauses together and the cross-reconstruction target is a pause too. keep_clean: each
    clip also carries its input audio and num_samples unchanged, as "emotion_audio" and
    "emotion_num_samples" (CLEAN_KEYS).
    """
    run = _compiled(options)
    out = {}
    for k, name in enumerate(sorted(batch)):
        clip = batch[name]
        if not isinstance(clip, dict) or "audio" not in clip:
            out[name] = clip
            continue
        columns = {key: np.array(clip[key], copy=True) for key in AUDIO_KEYS}
        clean = {CLEAN_KEYS[key]: np.asarray(clip[key]) for key in CLEAN_KEYS} if keep_clean else {}
        for row in range(columns["audio"].shape[0]):
            if columns["num_samples"][row] <= 0:  # a padding row (evaluation batches): leave it
                continue
            results = run(
                columns["audio"][row], np.int32(columns["num_samples"][row]), columns["targets"][row],
                np.int32(columns["num_frames"][row]), clip_seed(seed, *position, k, row),
                clip_seed(seed, *position, row, PAUSE_STREAM),
            )  # fmt: skip
            for key, value in zip(AUDIO_KEYS, results):
                columns[key][row] = value.numpy()
        out[name] = {**clip, **columns, **clean}
    return out


class AugmentedIterator:
    """A training batch iterator whose batches are augmented (`augment_batch`).

    Seeds come from the run's seed and the position of each batch (the wrapped iterator's
    get_state() epoch and batch, and its process index), so there is no state of its own:
    get_state / set_state are the wrapped iterator's.
    """

    def __init__(self, iterator, seed: int, options: AugmentOptions = AugmentOptions(), *, keep_clean: bool = False):
        self._iterator = iterator
        self._seed = int(seed)
        self._options = options
        self._keep_clean = keep_clean

    def __iter__(self):
        return self

    def __next__(self):
        state = self._iterator.get_state()
        position = (int(state["epoch"]), int(state["batch"]), int(getattr(self._iterator, "process_index", 0)))
        return augment_batch(next(self._iterator), self._seed, position, self._options, keep_clean=self._keep_clean)

    def get_state(self) -> dict[str, Any]:
        return self._iterator.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self._iterator.set_state(state)

    def __getattr__(self, name: str):
        # Everything else (plan, batches_per_epoch, metadata ...) is the wrapped iterator's.
        return getattr(self._iterator, name)


def options_from_config(config) -> AugmentOptions:
    """`config.data.augment_options` (a dict of `AugmentOptions` fields) over the defaults."""
    overrides = {
        key: tuple(v) if isinstance(v, list) else v for key, v in dict(config.data.get("augment_options", {})).items()
    }
    return AugmentOptions(**overrides)


def for_training(iterator, config):
    """The training batch iterator, wrapped in `AugmentedIterator` when `config.data.augment` is true.

    Options: `options_from_config`; seeded by `config.train.seed`. `config.data.augment_emotion`
    (default true): whether the emotion encoder reads the augmented audio too; false keeps the
    clean audio for it (`keep_clean`).
    """
    if not config.data.get("augment", False):
        return iterator
    keep_clean = not config.data.get("augment_emotion", True)
    return AugmentedIterator(
        iterator, seed=config.train.seed, options=options_from_config(config), keep_clean=keep_clean
    )
