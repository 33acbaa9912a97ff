"""Unbounded-length, batched and streaming inference (the predict/stream issue) on a tiny
random model: windowed `predict`, `--out-dir` batches (equal to per-file runs, resumable,
a corrupt file reported), and `Streamer` / `voiceemo stream` against offline windowed runs."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import soundfile

from voiceemo_jax import checkpoint_io
from voiceemo_jax.cli import main
from voiceemo_jax.inference.predictor import Predictor
from voiceemo_jax.inference.streaming import STREAM_WINDOW, Streamer
from voiceemo_jax.inference.windows import WindowConfig, WindowEngine, predict_windowed
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.testing.random_models import random_model

SMALL_WINDOW = ["--window-seconds", "2", "--context-seconds", "0.5"]


@pytest.fixture(scope="module")
def model():
    return random_model("tiny", seed=4)


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    return checkpoint_io.save_model(model, tmp_path_factory.mktemp("long") / "ckpt")


def test_predict_windows_long_audio_and_says_so(checkpoint, model, speech_like, tmp_path):
    audio = speech_like(16000 * 5 + 77, seed=1)
    soundfile.write(tmp_path / "long.wav", audio, 16000, subtype="FLOAT")
    out = tmp_path / "long.npy"
    argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(tmp_path / "long.wav"), "--out", str(out)]
    assert main(argv + SMALL_WINDOW + ["--no-post-processing"]) == 0
    coeffs, doc = np.load(out), json.loads(out.with_suffix(".json").read_text())
    assert coeffs.shape == (sequence_ops.frames_for(len(audio)), 52)
    assert doc["windowed"] == {"window_seconds": 2.0, "hop_seconds": 1.0, "lookahead_seconds": 0.5,
                               "left_context_seconds": 0.5}  # fmt: skip
    engine = WindowEngine(model, WindowConfig(window_seconds=2.0, context_seconds=0.5))
    expected, logits = predict_windowed(engine, audio, level=1, person=1)
    np.testing.assert_allclose(coeffs, expected, atol=1e-5)
    assert doc["emotion_logits"] == pytest.approx(dict(zip(doc["emotion_labels"], logits.tolist())), abs=1e-5)
    # --window-seconds 0: the whole clip at once, as the release does.
    assert main(argv + ["--window-seconds", "0", "--no-post-processing"]) == 0
    full = Predictor(model, window=None).predict(audio)
    np.testing.assert_allclose(np.load(out), full.outputs, atol=1e-5)
    assert json.loads(out.with_suffix(".json").read_text())["windowed"] is None


def test_a_long_emotion_clip_is_windowed_too(model, speech_like):
    predictor = Predictor(model, window=WindowConfig(window_seconds=2.0, context_seconds=0.5))
    content, emotion = speech_like(16000 * 3, seed=2), speech_like(16000 * 6, seed=3)
    prediction = predictor.predict(content, emotion_audio=emotion)
    assert prediction.windowed and prediction.outputs.shape == (90, 52) and np.all(np.isfinite(prediction.outputs))
    own = predictor.predict(content)
    assert not np.allclose(prediction.outputs, own.outputs, atol=1e-3)  # the emotion did come from the other clip


def _write_folder(root, speech_like):
    lengths = {"a.wav": 1.3, "b.wav": 0.6, "sub/c.flac": 2.9, "sub/d.wav": 1.7, "e.wav": 3.4, "f.wav": 0.9}
    for i, (name, seconds) in enumerate(lengths.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / name, speech_like(int(16000 * seconds), seed=10 + i), 16000)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    (root / "notes.txt").write_text("not audio, not picked up")
    return lengths


def test_batch_run_equals_per_file_runs_resumes_and_reports_bad_files(checkpoint, speech_like, tmp_path, capsys):
    inputs, out_dir = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    lengths = _write_folder(inputs, speech_like)
    argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(inputs), "--out-dir", str(out_dir)]
    argv += SMALL_WINDOW + ["--batch-size", "3", "--no-progress"]
    assert main(argv) == 1  # one file failed
    report = capsys.readouterr().out
    assert "6 predicted (2 windowed), 0 skipped (already done), 1 failed" in report and "broken.wav" in report
    assert not (out_dir / "broken.npy").exists() and not (out_dir / "broken.json").exists()
    for name, seconds in lengths.items():
        stem = name.rsplit(".", 1)[0]
        batch = np.load(out_dir / f"{stem}.npy")
        single = tmp_path / "single" / f"{stem}.npy"
        one = ["predict", "--checkpoint", str(checkpoint), "--audio", str(inputs / name), "--out", str(single)]
        assert main(one + SMALL_WINDOW) == 0
        assert batch.shape == (sequence_ops.frames_for(int(16000 * seconds)), 52)
        np.testing.assert_allclose(batch, np.load(single), atol=2e-5, err_msg=name)
        assert json.loads((out_dir / f"{stem}.json").read_text())["sources"]["audio"] == str(inputs / name)
    capsys.readouterr()

    # Resumption: finished files are skipped; a deleted output is redone.
    before = (out_dir / "a.npy").stat().st_mtime_ns
    (out_dir / "sub" / "d.npy").unlink()
    assert main(argv) == 1
    report = capsys.readouterr().out
    assert "1 predicted (0 windowed), 5 skipped (already done), 1 failed" in report
    assert (out_dir / "a.npy").stat().st_mtime_ns == before and (out_dir / "sub" / "d.npy").exists()

    # A glob of good files only: exit 0.
    glob_argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(inputs / "[abf].wav")]
    assert main(glob_argv + ["--out-dir", str(tmp_path / "glob"), "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "glob").glob("*.npy")) == ["a.npy", "b.npy", "f.npy"]


def test_batch_inputs_are_checked_before_any_work(checkpoint, tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for folder in ("x", "y"):
        soundfile.write(tmp_path / folder / "same.wav", np.zeros(8000, np.float32), 16000)
    base = ["predict", "--checkpoint", str(checkpoint), "--out-dir", str(tmp_path / "out"), "--audio"]
    assert main(base + [str(tmp_path / "x" / "same.wav"), str(tmp_path / "y" / "same.wav")]) == 2
    assert "would both write" in capsys.readouterr().err
    assert main(base + [str(tmp_path / "nothing*.wav")]) == 2
    assert "no audio file matches" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    one = ["predict", "--checkpoint", str(checkpoint), "--audio", str(tmp_path / "x"), "--out", str(tmp_path / "o.npy")]
    assert main(one) == 2 and "--out-dir" in capsys.readouterr().err


@pytest.mark.parametrize("seconds, chunk", [(3.7, 3200), (0.5, 1000), (1.15, 16000 * 5)])
def test_stream_equals_offline_windowed_and_emits_every_frame(model, speech_like, seconds, chunk):
    audio = speech_like(int(16000 * seconds), seed=7)
    streamer = Streamer(model, level=1, person=2)
    pieces = [streamer.feed(audio[i : i + chunk]) for i in range(0, len(audio), chunk)]
    if seconds > STREAM_WINDOW.latency_seconds + 0.5 and chunk < 16000:
        assert sum(len(p) for p in pieces) > 0  # frames came out before the stream ended
    pieces.append(streamer.finish())
    streamed = np.concatenate(pieces)
    assert len(streamed) == streamer.num_frames == int(np.ceil(seconds * 30 - 1e-9))
    offline, logits = predict_windowed(WindowEngine(model, STREAM_WINDOW), audio, level=1, person=2)
    np.testing.assert_allclose(streamed, offline, atol=1e-5)
    np.testing.assert_allclose(streamer.emotion_logits(), logits, atol=1e-5)


def test_stream_emits_a_frame_no_later_than_the_documented_latency(model, speech_like):
    streamer, chunk = Streamer(model), 160  # 10 ms chunks
    audio = speech_like(16000 * 3, seed=8)
    emitted = 0
    for begin in range(0, len(audio), chunk):
        emitted += len(streamer.feed(audio[begin : begin + chunk]))
        received = (begin + chunk) / 16000
        # Every frame whose time is at least latency_seconds behind the audio is out.
        assert emitted >= int((received - streamer.latency_seconds) * 30 - 1e-6)
    assert streamer.latency_seconds == pytest.approx(0.9)


def test_stream_command_reads_stdin_pcm_and_files(checkpoint, model, speech_like, tmp_path, monkeypatch, capsys):
    audio = speech_like(int(16000 * 2.2), seed=9)
    pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype("<i2")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm.tobytes())))
    out = tmp_path / "stream.npy"
    argv = ["stream", "--checkpoint", str(checkpoint), "--input", "-", "--chunk-ms", "100", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    header, frames = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["latency_seconds"] == pytest.approx(0.9) and len(header["channel_names"]) == 52
    assert len(frames) == 66 and [f["frame"] for f in frames] == list(range(66))
    assert "real-time factor" in captured.err
    offline, _ = predict_windowed(WindowEngine(model, STREAM_WINDOW), pcm.astype(np.float32) / 32768, level=1, person=1)
    np.testing.assert_allclose(np.array([f["values"] for f in frames]), offline, atol=1e-5)
    np.testing.assert_allclose(np.load(out), offline, atol=1e-5)

    soundfile.write(tmp_path / "in.wav", audio, 16000, subtype="FLOAT")
    argv = ["stream", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "in.wav"), "--format", "csv"]
    assert main(argv) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("frame,time,browDownLeft") and len(rows) == 67
    assert main(["stream", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "missing.wav")]) == 2
