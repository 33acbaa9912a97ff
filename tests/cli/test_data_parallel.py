"""`voiceemo predict --out-dir` splits each padded batch over every local device: run with
eight forced host devices (a subprocess, since XLA flags are per process), its files equal
the one-device run's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import soundfile
from subprocesses import ROOT, subprocess_env

from voiceemo_jax import checkpoint_io
from voiceemo_jax.cli import main
from voiceemo_jax.testing.random_models import random_model


def test_predict_out_dir_over_eight_devices_equals_one_device(speech_like, tmp_path):
    checkpoint = checkpoint_io.save_model(random_model("tiny", seed=5), tmp_path / "ckpt")
    inputs = tmp_path / "in"
    inputs.mkdir()
    # Three files of different lengths in one bucket: batch 3 is rounded up to 8 rows on 8 devices.
    for i, seconds in enumerate((1.3, 1.7, 2.0)):
        soundfile.write(inputs / f"clip{i}.wav", speech_like(int(seconds * 16000), seed=i), 16000, subtype="FLOAT")
    argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(inputs), "--batch-size", "3", "--no-progress"]

    assert main([*argv, "--out-dir", str(tmp_path / "one")]) == 0
    command = [sys.executable, "-m", "voiceemo_jax.cli", *argv, "--out-dir", str(tmp_path / "eight")]
    done = subprocess.run(command, cwd=ROOT, env=subprocess_env(devices=8), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "batches over 8 device(s)" in done.stdout

    for i in range(3):
        one, eight = np.load(tmp_path / "one" / f"clip{i}.npy"), np.load(tmp_path / "eight" / f"clip{i}.npy")
        assert one.shape == eight.shape and one.shape[0] > 30
        # Equal up to float rounding: each device's [1, ...] rows compile to other loop tilings
        # than one device's [8, ...] batch, so the sums round differently (1e-6 measured).
        np.testing.assert_allclose(eight, one, rtol=0, atol=2e-5)
