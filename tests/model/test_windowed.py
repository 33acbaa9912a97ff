"""Windowed inference building blocks (issue: unbounded-length inference): window plans tile
the clip's frames exactly, and a clip that fits one window gives the full model's output
through the block-wise causal decoder."""

import numpy as np
import pytest

from voiceemo_jax.inference import windows as windowed
from voiceemo_jax.inference.predictor import Predictor
from voiceemo_jax.inference.windows import WindowConfig, WindowEngine, frames_to_samples, plan_windows, predict_windowed
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.testing.random_models import random_model
from voiceemo_jax.testing.signals import speech_like


@pytest.mark.parametrize("num_samples", [720, 16000, 16000 * 7 + 123, 16000 * 31])
@pytest.mark.parametrize("window, context", [(2.0, 0.5), (4.0, 1.0), (20.0, 3.0)])
def test_window_cores_tile_the_frames_exactly(num_samples, window, context):
    config = WindowConfig(window_seconds=window, context_seconds=context)
    windows = plan_windows(num_samples, config)
    cores = [(w.core_start, w.core_end) for w in windows]
    assert cores[0][0] == 0 and cores[-1][1] == sequence_ops.frames_for(num_samples)
    assert all(a[1] == b[0] for a, b in zip(cores, cores[1:]))
    for w in windows:
        assert 0 <= w.start_sample < w.end_sample <= num_samples
        assert w.end_sample - w.start_sample <= config.window_samples
        assert w.first_frame <= w.core_start and w.crop >= 0


def test_geometry_is_checked():
    with pytest.raises(ValueError, match="multiple of 0.1 s"):
        WindowConfig(window_seconds=2.05)
    with pytest.raises(ValueError, match="no hop"):
        WindowConfig(window_seconds=2.0, context_seconds=1.0)
    with pytest.raises(ValueError, match="not a multiple"):
        frames_to_samples(4)
    assert WindowConfig(window_seconds=20.0, context_seconds=3.0).latency_seconds == pytest.approx(17.0)


def test_a_clip_inside_one_window_equals_the_full_model():
    model = random_model("tiny", seed=1)
    audio = speech_like(16000 * 7 + 123, seed=3)
    full = Predictor(model).predict(audio, level=1, person=2)
    engine = WindowEngine(model, WindowConfig(window_seconds=12.0, context_seconds=2.0), windows_per_batch=2)
    outputs, logits = predict_windowed(engine, audio, level=1, person=2)
    assert outputs.shape == full.outputs.shape == (sequence_ops.frames_for(len(audio)), 52)
    scale = max(1.0, float(np.abs(full.outputs).max()))
    assert np.abs(outputs - full.outputs).max() <= 1e-4 * scale
    assert np.abs(logits - full.emotion_logits).max() <= 1e-4


def test_the_clips_last_window_reaches_back_a_whole_window():
    """The last core, cut short by the clip's end, gets a whole window of left context: with a
    window longer than the clip, every window spans the whole clip and equals the full model."""
    model = random_model("tiny", seed=1)
    audio = speech_like(16000 * 7, seed=4)  # 210 frames: a 207-frame hop leaves 3 for the last core
    config = WindowConfig(window_seconds=7.1, context_seconds=0.1)
    windows = plan_windows(len(audio), config)
    assert [(w.start_sample, w.end_sample) for w in windows] == [(0, len(audio))] * 2
    assert windows[-1].crop == config.hop_frames
    full = Predictor(model, window=None).predict(audio, level=1, person=2)
    outputs, _ = predict_windowed(WindowEngine(model, config), audio, level=1, person=2)
    scale = max(1.0, float(np.abs(full.outputs).max()))
    assert np.abs(outputs - full.outputs).max() <= 1e-4 * scale


def test_windows_with_the_same_span_are_encoded_once(monkeypatch):
    """A 30 s clip at the default 20 s / 3 s geometry: the clip's end clips its last two windows
    to the same 20 s span, which is encoded once, each core sliced from it as if alone."""
    model = random_model("tiny", seed=1)
    audio = speech_like(16000 * 30, seed=5)
    config = WindowConfig()
    windows = plan_windows(len(audio), config)
    spans = [(w.start_sample, w.end_sample) for w in windows]
    assert len(windows) == 3 and spans[1] == spans[2] != spans[0]
    engine = WindowEngine(model, config)

    def audio_of(window):
        return audio[window.start_sample : window.end_sample]

    alone = [engine.encode([w], audio_of)[0] for w in windows]
    calls = []
    encode = windowed._encode_windows
    monkeypatch.setattr(windowed, "_encode_windows", lambda *args: calls.append(args) or encode(*args))
    together = engine.encode(windows, audio_of)
    assert len(calls) == 2
    for window, (content, emotion), (shared_content, shared_emotion) in zip(windows, alone, together):
        assert len(shared_content) == len(shared_emotion) == window.core_end - window.core_start
        np.testing.assert_array_equal(shared_content, content)
        np.testing.assert_array_equal(shared_emotion, emotion)
