"""Streaming inference: feed 16 kHz PCM chunks, get coefficient frames as they become final.

    streamer = Streamer.from_checkpoint("ckpt")
    for chunk in microphone():            # float32 [n] at 16 kHz, any n
        frames = streamer.feed(chunk)     # [k, 52]: the frames that just became final
    frames = streamer.finish()            # the rest, once the audio has ended

A stream runs the same window plan as an offline windowed run (`windows.py`), only
evaluated as the audio arrives: window i runs once `window_end_sample(i)` samples are in,
so the frames a stream emits equal those of `predict_windowed` with the same geometry.

Latency (algorithmic, fixed by the geometry; compute time comes on top): window i emits
its core, frames [i * hop, (i + 1) * hop), when audio up to (i + 1) * hop + lookahead has
arrived, so a frame waits at most hop + lookahead seconds (`latency_seconds`). The
defaults (`STREAM_WINDOW`: 4 s windows, 0.3 s hop, 0.6 s lookahead, 3.1 s left context)
give 0.9 s.

Memory is bounded: the audio kept is at most one window and a chunk, and the decoder's key/value
cache grows by 2 * d_model floats per frame (see `morph_synthesizer.KVCache`).
"""

from __future__ import annotations

import os
import time

import numpy as np

from voiceemo_jax import checkpoint_io
from voiceemo_jax.errors import UserError
from voiceemo_jax.inference.windows import SAMPLES_PER_STEP, WindowConfig, WindowEngine, plan_windows, window_for

STREAM_WINDOW = WindowConfig(window_seconds=4.0, context_seconds=0.6, hop_seconds=0.3)


class Streamer:
    """One stream at a time; `reset()` starts the next. Not thread-safe."""

    def __init__(
        self,
        model,
        window: WindowConfig = STREAM_WINDOW,
        *,
        level: int = 1,
        person: int = 1,
        rest_in_pauses: bool | None = None,
        close_in_dips: bool | None = None,
    ):
        """model: a VoiceEmo. level, person: the synthesizer's controls for the whole stream.
        rest_in_pauses, close_in_dips: gate the mouth to rest in pauses, to close in the level's dips
        (pauses.py); None: as the model's config says."""
        synth = model.config.synthesizer
        if not 0 <= level < synth.num_levels:
            raise UserError(f"level {level} is out of range: this model has levels 0..{synth.num_levels - 1}")
        if not 0 <= person < synth.num_persons:
            raise UserError(f"person {person} is out of range: this model has persons 0..{synth.num_persons - 1}")
        self.engine = WindowEngine(model, window, rest_in_pauses=rest_in_pauses, close_in_dips=close_in_dips)
        self.window = window
        self.level, self.person = level, person
        self.compute_seconds = 0.0  # time spent in the model, for real-time-factor reports
        self.reset()

    @classmethod
    def from_checkpoint(cls, ckpt_dir: str | os.PathLike, window: WindowConfig = STREAM_WINDOW, **kwargs) -> Streamer:
        model, _ = checkpoint_io.load_model(ckpt_dir)
        return cls(model, window, **kwargs)

    @property
    def latency_seconds(self) -> float:
        """Longest wait of a frame for the audio it needs: hop + lookahead."""
        return self.window.latency_seconds

    @property
    def num_samples(self) -> int:
        """Samples received so far."""
        return self._received

    @property
    def num_frames(self) -> int:
        """Frames emitted so far."""
        return self._run.num_frames

    def warm_up(self) -> float:
        """Compiles the window encoder and decoder programs on silence, then resets, so that a
        live stream does not wait for compilation. Returns the seconds it took."""
        start = time.perf_counter()
        self.reset()
        self.feed(np.zeros(self.window.window_samples, np.float32))
        self.finish()
        self.reset()
        self.compute_seconds = 0.0
        return time.perf_counter() - start

    def reset(self) -> None:
        self._run = self.engine.new_run(level=self.level, person=self.person)
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0  # global sample index of self._buffer[0]
        self._received = 0
        self._next_window = 0
        self._finished = False

    def _audio_of(self, window) -> np.ndarray:
        return self._buffer[window.start_sample - self._buffer_start : window.end_sample - self._buffer_start]

    def _run_windows(self, windows) -> np.ndarray:
        start = time.perf_counter()
        outputs = self._run.run(windows, self._audio_of)
        self.compute_seconds += time.perf_counter() - start
        self._next_window += len(windows)
        return outputs

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        """chunk: [n] float32 samples at 16 kHz -> the [k, D] frames that became final (k >= 0)."""
        if self._finished:
            raise RuntimeError("this stream has finished; call reset() to start another")
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        if chunk.size and not np.all(np.isfinite(chunk)):
            raise UserError("the stream contains NaN or infinite samples")
        self._buffer = np.concatenate([self._buffer, chunk])
        self._received += len(chunk)
        ready = []
        while window_for(self._next_window + len(ready), self.window).end_sample <= self._received:
            ready.append(window_for(self._next_window + len(ready), self.window))
        outputs = self._run_windows(ready) if ready else self._empty()
        # Keep only the audio a later window can reach back to: the next window's start, or,
        # should the stream end before that window's end, a whole window before the end.
        end_step = self._received // SAMPLES_PER_STEP * SAMPLES_PER_STEP
        keep_from = max(0, min(window_for(self._next_window, self.window).start_sample,
                               end_step - self.window.window_samples))  # fmt: skip
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start :]
            self._buffer_start = keep_from
        return outputs

    def finish(self) -> np.ndarray:
        """Ends the stream -> its remaining frames; the total is ceil(seconds * 30)."""
        if self._finished:
            raise RuntimeError("this stream has already finished")
        self._finished = True
        if self._received == 0:
            return self._empty()
        if self._received < self.engine.model_config.min_samples:
            raise UserError(
                f"the stream is too short: {self._received} samples; the encoders need at least "
                f"{self.engine.model_config.min_samples} for one frame"
            )
        remaining = plan_windows(self._received, self.window)[self._next_window :]
        return self._run_windows(remaining) if remaining else self._empty()

    def emotion_logits(self) -> np.ndarray:
        """[labels] logits of the emotion pooled over the stream so far."""
        return self._run.emotion_logits()

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        return self.engine.model_config.emotion_labels

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.engine.model_config.synthesizer.output_dim), np.float32)
