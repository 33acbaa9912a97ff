"""Windowed inference: any audio length in bounded memory, shared by files and streams.

The two wav2vec2 encoders attend over the whole clip, so their cost grows with the
square of its length. For long audio they run on overlapping windows instead, and only
each window's *core* (its hop) is kept; the context on either side is what makes the
core match the full-sequence result. The decoder then runs exactly over the assembled
features, block by block with its key/value cache (`morph_synthesizer.KVCache`), and the
emotion is pooled over the whole clip.

Window geometry, in frames (30 fps; everything a multiple of 3 frames = 0.1 s = 1600
samples, so every window starts on a sample, on a 30 fps frame and on a wav2vec2 CNN
step of 320 samples, and its local frames are global frames shifted by a whole number):

    window i:  |-- left context --|---- core i (hop) ----|-- lookahead --|
               ^ max(0, end - W)   ^ i * hop              ^ end = i * hop + hop + lookahead

Windows end at `i * hop + hop + lookahead` and reach back at most `window` frames (clipped
at 0). A window the clip's end cuts short ends there and reaches back a whole window from
it, so the last frames keep a full window of context. A window depends only on audio up to its end, which
is what makes streaming (`streaming.Streamer`) produce exactly the windows a whole-file
run produces: the same plan, evaluated as the audio arrives.

Emotion: the full model mean-pools the emotion encoder's 30 fps hidden states over the
clip and applies the classifier head. Windowed, the hidden states of every core are
pooled over the whole clip (running sum or max over cores: the same frame-weighted pool),
then the same head: one set of logits per clip, not per window.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from voiceemo_jax.inference import pauses
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.morph_synthesizer import KVCache

SAMPLES_PER_STEP = 1600  # 0.1 s: 3 frames at 30 fps, 5 wav2vec2 CNN steps of 320 samples
FRAMES_PER_STEP = 3
# The decoder's block: its attention holds [heads, block, cache capacity] logits, so a whole
# 14 s hop (420 frames) against a 10-minute cache (32768 frames) would need ~0.7 GB at the
# release size; 1 s blocks need 16 MB per tensor, for the same arithmetic.
DECODER_BLOCK_FRAMES = 30
# Cache capacities are powers of two times this many frames (68 s): a stream compiles
# one decoder program per capacity, so log2(hours) programs in all.
MIN_CACHE_FRAMES = 2048


def _steps(seconds: float, name: str) -> int:
    """Seconds -> whole 0.1 s steps; rejects values that are not a multiple of 0.1 s."""
    steps = round(seconds * 10)
    if not math.isclose(steps, seconds * 10, abs_tol=1e-6) or steps < 0:
        raise ValueError(f"{name} must be a non-negative multiple of 0.1 s, got {seconds}")
    return steps


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """Window geometry in seconds (multiples of 0.1 s).

    window_seconds: the whole window, context included; audio longer than this is windowed.
    context_seconds: lookahead (right context) of each core, and the left context when
      hop_seconds is not given (then hop = window - 2 * context: centred cores).
    hop_seconds: frames each window contributes; the left context is window - hop - lookahead.
    """

    window_seconds: float = 20.0
    context_seconds: float = 3.0
    hop_seconds: float | None = None

    def __post_init__(self):
        window, lookahead = _steps(self.window_seconds, "window_seconds"), _steps(self.context_seconds, "context")
        hop = window - 2 * lookahead if self.hop_seconds is None else _steps(self.hop_seconds, "hop_seconds")
        if hop < 1:
            raise ValueError(
                f"window_seconds {self.window_seconds} leaves no hop with context_seconds {self.context_seconds} "
                "on both sides (need window > 2 * context)"
            )
        if hop + lookahead > window:
            raise ValueError(
                f"hop ({hop / 10} s) + lookahead ({self.context_seconds} s) exceed window_seconds {self.window_seconds}"
            )

    @property
    def window_frames(self) -> int:
        return _steps(self.window_seconds, "window_seconds") * FRAMES_PER_STEP

    @property
    def lookahead_frames(self) -> int:
        return _steps(self.context_seconds, "context_seconds") * FRAMES_PER_STEP

    @property
    def hop_frames(self) -> int:
        if self.hop_seconds is None:
            return self.window_frames - 2 * self.lookahead_frames
        return _steps(self.hop_seconds, "hop_seconds") * FRAMES_PER_STEP

    @property
    def left_context_frames(self) -> int:
        return self.window_frames - self.hop_frames - self.lookahead_frames

    @property
    def window_samples(self) -> int:
        return frames_to_samples(self.window_frames)

    @property
    def latency_seconds(self) -> float:
        """Algorithmic latency of a stream: the last frame of a hop waits for the lookahead,
        the first for the rest of its hop too, so hop + lookahead seconds at most."""
        return (self.hop_frames + self.lookahead_frames) / sequence_ops.FPS

    def to_dict(self) -> dict[str, float]:
        fps = sequence_ops.FPS
        return {
            "window_seconds": self.window_frames / fps,
            "hop_seconds": self.hop_frames / fps,
            "lookahead_seconds": self.lookahead_frames / fps,
            "left_context_seconds": self.left_context_frames / fps,
        }


def frames_to_samples(frames: int) -> int:
    """Exact sample offset of a frame that is a multiple of 3 (16000 / 30 = 533.33...)."""
    if frames % FRAMES_PER_STEP:
        raise ValueError(f"{frames} frames is not a multiple of {FRAMES_PER_STEP}")
    return frames // FRAMES_PER_STEP * SAMPLES_PER_STEP


@dataclasses.dataclass(frozen=True)
class Window:
    """Samples [start_sample, end_sample) of the clip, contributing frames [core_start, core_end)."""

    index: int
    start_sample: int
    end_sample: int
    core_start: int
    core_end: int

    @property
    def first_frame(self) -> int:
        """Global frame of the window's local frame 0."""
        return self.start_sample // SAMPLES_PER_STEP * FRAMES_PER_STEP

    @property
    def crop(self) -> int:
        """Local frame where the core starts."""
        return self.core_start - self.first_frame

    @property
    def span(self) -> tuple[int, int]:
        """(start_sample, end_sample): windows with the same span have the same encoder output."""
        return self.start_sample, self.end_sample

    @property
    def core(self) -> slice:
        """The core's local frames."""
        return slice(self.crop, self.crop + self.core_end - self.core_start)


def window_end_sample(index: int, config: WindowConfig) -> int:
    """Audio a stream must have received before window `index` can run (its unclipped end)."""
    return frames_to_samples((index + 1) * config.hop_frames + config.lookahead_frames)


def window_for(index: int, config: WindowConfig, num_samples: int | None = None) -> Window:
    """Window `index`; `num_samples` (the clip's length, None while streaming) clips its end.

    A window whose end the clip cuts short reaches back a whole window from the clip's end
    (rounded up to a 0.1 s step) instead: the clip's last core gets a full window of left
    context, not just what is left of its lookahead.
    """
    end_frame = (index + 1) * config.hop_frames + config.lookahead_frames
    start_frame = max(0, end_frame - config.window_frames)
    end_sample = frames_to_samples(end_frame)
    core_end = index * config.hop_frames + config.hop_frames
    if num_samples is not None and num_samples < end_sample:
        end_sample = num_samples
        clip_end_frame = -(-num_samples // SAMPLES_PER_STEP) * FRAMES_PER_STEP
        start_frame = max(0, min(start_frame, clip_end_frame - config.window_frames))
        core_end = min(core_end, sequence_ops.frames_for(num_samples))
    return Window(index, frames_to_samples(start_frame), end_sample, index * config.hop_frames, core_end)


def plan_windows(num_samples: int, config: WindowConfig) -> list[Window]:
    """All windows of a clip; their cores tile frames [0, ceil(seconds * 30)) exactly."""
    num_frames = sequence_ops.frames_for(num_samples)
    count = -(-num_frames // config.hop_frames)
    return [window_for(i, config, num_samples) for i in range(count)]


@functools.partial(jax.jit, static_argnums=(0, 4))
def _encode_windows(graphdef, params, audio, num_samples, with_emotion: bool):
    """audio: [B, window_samples]; num_samples: [B] int.

    -> (content [B, F, Hc], emotion hidden [B, F, He] or None), F = the window's frames,
    in each window's own local frames (past a short window's end: padding).
    """
    model = nnx.merge(graphdef, params)
    num_frames = sequence_ops.frames_for_array(num_samples)
    max_frames = sequence_ops.frames_for(audio.shape[1])
    content = model.content_encoder(audio, num_samples, num_frames, max_frames)
    if not with_emotion:
        return content, None
    emotion, _ = model.emotion_encoder(audio, num_samples, num_frames, max_frames)
    return content, emotion


@functools.partial(jax.jit, static_argnums=(0,))
def _classify(graphdef, params, pooled):
    """pooled: [He] -> emotion logits [labels] (the emotion encoder's classification head)."""
    return nnx.merge(graphdef, params).emotion_encoder.classifier(pooled[None])[0]


@functools.partial(jax.jit, static_argnums=(0,), donate_argnums=(2,))
def _decode_block(graphdef, params, cache, content, emotion, level, person, num_frames):
    """The morph synthesizer on one block of Q frames after the cached ones.

    content: [1, Q, Hc]; emotion: [1, Q, He]; level, person, num_frames (<= Q): [1] int.
    -> (outputs [1, Q, D], the cache advanced by num_frames).
    """
    synthesizer = nnx.merge(graphdef, params)
    return synthesizer(content, emotion, level, person, num_frames, cache=cache)


class EmotionPool:
    """Running pool of emotion hidden states over a clip's frames (config.pooling_mode)."""

    def __init__(self, mode: str, hidden_size: int):
        if mode not in ("mean", "sum", "max"):
            raise ValueError(f"unknown pooling mode {mode!r}")
        self.mode = mode
        self.count = 0
        # float64 running sum: 10^5 frames of float32 would otherwise lose ~1e-3 relative.
        self._total = np.zeros(hidden_size, np.float64) if mode != "max" else np.full(hidden_size, -np.inf)

    def add(self, hidden: np.ndarray) -> None:
        """hidden: [frames, He]."""
        if not len(hidden):
            return
        self.count += len(hidden)
        if self.mode == "max":
            self._total = np.maximum(self._total, hidden.max(axis=0))
        else:
            self._total += hidden.sum(axis=0, dtype=np.float64)

    def pooled(self) -> np.ndarray:
        """[He] float32; mean divides by the frames seen."""
        if self.mode == "mean":
            return (self._total / max(self.count, 1)).astype(np.float32)
        return self._total.astype(np.float32)


class WindowEngine:
    """A model's compiled window encoder, classifier head and decoder factory for one geometry."""

    def __init__(
        self,
        model,
        config: WindowConfig,
        *,
        windows_per_batch: int = 1,
        rest_in_pauses: bool | None = None,
        close_in_dips: bool | None = None,
    ):
        """model: a VoiceEmo. windows_per_batch: windows encoded per call (static batch size).
        rest_in_pauses, close_in_dips: gate the mouth to rest in pauses, to close in the level's dips
        (pauses.py); None: as the model's config says."""
        self.model = model
        self.config = config
        self.model_config = model.config
        self.rest_in_pauses = pauses.resolve(model.config, "rest_in_pauses", rest_in_pauses)
        self.close_in_dips = pauses.resolve(model.config, "close_in_dips", close_in_dips)
        self.windows_per_batch = int(windows_per_batch)
        self.graphdef, self.params = nnx.split(model)
        self.synthesizer_graphdef, self.synthesizer_params = nnx.split(model.morph_synthesizer)
        left_samples = frames_to_samples(config.left_context_frames)
        if left_samples < self.model_config.min_samples and config.left_context_frames:
            raise ValueError(f"left context {left_samples} samples is shorter than the CNN's receptive field")

    def encode(
        self, windows: Sequence[Window], audio_of: Callable[[Window], np.ndarray], *, with_emotion: bool = True
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Runs the encoders on windows -> per window (content [n, Hc], emotion [n, He] | None),
        n = core_end - core_start.

        Windows with the same audio span are encoded once: the clip's end can clip the last
        two windows to the same span (a last core no longer than the lookahead), and a 30 s
        clip would otherwise encode 60 s of audio instead of 40 s. Each window's core is then
        sliced from its span's frames, so the result does not depend on the sharing.
        """
        by_span: dict[tuple[int, int], list[int]] = {}
        for i, window in enumerate(windows):
            by_span.setdefault(window.span, []).append(i)
        spans = list(by_span)
        results: list = [None] * len(windows)
        size, width = self.windows_per_batch, self.config.window_samples
        for begin in range(0, len(spans), size):
            group = [windows[by_span[span][0]] for span in spans[begin : begin + size]]
            # Static batch: repeat the last window into unused rows (their results are dropped).
            rows = group + [group[-1]] * (size - len(group))
            audio = np.zeros((size, width), np.float32)
            for row, window in zip(audio, rows):
                clip = audio_of(window)
                row[: len(clip)] = clip
            lengths = np.array([w.end_sample - w.start_sample for w in rows], np.int32)
            content, emotion = _encode_windows(
                self.graphdef, self.params, jnp.asarray(audio), jnp.asarray(lengths), with_emotion
            )
            content = np.asarray(content)
            emotion = None if emotion is None else np.asarray(emotion)
            # Copies of the cores: the batch's whole window frames are not kept alive.
            for row, window in enumerate(group):
                for i in by_span[window.span]:
                    core = windows[i].core
                    results[i] = (content[row, core].copy(), None if emotion is None else emotion[row, core].copy())
        return results

    def classify(self, pooled: np.ndarray) -> np.ndarray:
        """[He] pooled emotion hidden state -> [labels] logits."""
        return np.asarray(_classify(self.graphdef, self.params, jnp.asarray(pooled)))

    def new_run(self, *, level: int, person: int, emotion_track: np.ndarray | None = None) -> WindowedRun:
        return WindowedRun(self, level=level, person=person, emotion_track=emotion_track)


class WindowedRun:
    """One clip or stream in progress: decoder cache, emotion pool and frame count.

    Windows must be given in order, each exactly once; `emotion_track` ([T, He]) replaces
    the windows' own emotion features (the emotion transplanted from another clip).
    Not thread-safe.
    """

    def __init__(self, engine: WindowEngine, *, level: int, person: int, emotion_track: np.ndarray | None = None):
        self.engine = engine
        # The static block size: every decoder call is padded to it (one program per cache capacity).
        self.block_frames = min(engine.config.hop_frames, DECODER_BLOCK_FRAMES)
        self.level = jnp.asarray([level], jnp.int32)
        self.person = jnp.asarray([person], jnp.int32)
        self.emotion_track = emotion_track
        self.pool = EmotionPool(engine.model_config.emotion.pooling_mode, engine.model_config.emotion.hidden_size)
        self.num_frames = 0  # frames decoded so far
        self._cache: KVCache | None = None

    @property
    def cache_frames(self) -> int:
        """Rows of the decoder's key/value cache (0 before the first frame)."""
        return 0 if self._cache is None else self._cache.capacity

    def _ensure_capacity(self, frames: int) -> None:
        """Grows the cache (doubling) so that `frames` rows fit."""
        capacity = max(self.cache_frames, MIN_CACHE_FRAMES)
        while capacity < frames:
            capacity *= 2
        if self._cache is None:
            self._cache = KVCache.empty(self.engine.model_config.synthesizer, 1, capacity)
        elif capacity > self.cache_frames:
            self._cache = self._cache.grown(capacity)

    def decode(self, content: np.ndarray, emotion: np.ndarray) -> np.ndarray:
        """content: [n, Hc], emotion: [n, He] for the next n frames -> [n, D] float32: the
        decoder's outputs of exactly these frames, each depending on frames up to its own."""
        if len(content) != len(emotion):
            raise ValueError(f"content has {len(content)} frames but emotion has {len(emotion)}")
        block = self.block_frames
        outputs = [np.zeros((0, self.engine.model_config.synthesizer.output_dim), np.float32)]
        for begin in range(0, len(content), block):
            count = min(block, len(content) - begin)
            block_c = np.zeros((1, block, content.shape[1]), np.float32)
            block_e = np.zeros((1, block, emotion.shape[1]), np.float32)
            block_c[0, :count], block_e[0, :count] = content[begin : begin + count], emotion[begin : begin + count]
            # A whole block is written to the cache (its padding rows as scratch), so it must fit.
            self._ensure_capacity(self.num_frames + block)
            out, self._cache = _decode_block(
                self.engine.synthesizer_graphdef,
                self.engine.synthesizer_params,
                self._cache,
                jnp.asarray(block_c),
                jnp.asarray(block_e),
                self.level,
                self.person,
                jnp.asarray([count], jnp.int32),
            )
            outputs.append(np.asarray(out[0, :count]))
            self.num_frames += count
        return np.concatenate(outputs)

    def run(self, windows: Sequence[Window], audio_of: Callable[[Window], np.ndarray]) -> np.ndarray:
        """Encodes and decodes `windows` -> their cores' outputs [sum of core lengths, D] float32."""
        encoded = self.engine.encode(windows, audio_of, with_emotion=self.emotion_track is None)
        outputs = [np.zeros((0, self.engine.model_config.synthesizer.output_dim), np.float32)]
        for window, (content, emotion) in zip(windows, encoded):
            if window.core_start != self.num_frames:
                raise ValueError(f"window {window.index} starts at frame {window.core_start}, expected "
                                 f"{self.num_frames}: windows must come in order")  # fmt: skip
            if self.emotion_track is not None:
                emotion = self.emotion_track[window.core_start : window.core_end]
            self.pool.add(emotion)
            # Gated from the window's own audio, which gives the core the whole clip's gates (pauses.py).
            outputs.append(pauses.gate_as(self.engine, self.decode(content, emotion), audio_of(window), window.crop))
        return np.concatenate(outputs)

    def emotion_logits(self) -> np.ndarray:
        """[labels] logits of the emotion pooled over every frame so far."""
        return self.engine.classify(self.pool.pooled())


def predict_windowed(
    engine: WindowEngine,
    audio: np.ndarray,
    *,
    level: int,
    person: int,
    emotion_track: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """audio: [samples] float32 16 kHz -> (outputs [ceil(seconds * 30), D], emotion logits [labels])."""
    run = engine.new_run(level=level, person=person, emotion_track=emotion_track)
    windows = plan_windows(len(audio), engine.config)
    outputs = run.run(windows, lambda w: audio[w.start_sample : w.end_sample])
    return outputs, run.emotion_logits()
