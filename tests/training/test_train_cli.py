"""`voiceemo train --config configs/tiny.py` end to end, in subprocesses as a user runs it:
the loss falls on the learnable fixture, re-running resumes, a kill -9 mid-run resumes to the
same parameters as an uninterrupted run, and the exported model predicts."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from subprocesses import ROOT, subprocess_env

pytestmark = pytest.mark.heavy  # scheduled first (conftest.py)

STEPS = 100
# Checkpoints every 10 steps; 8 triplets a step from the fixture (4 actors x 30 clips).
COMMON = ["--config.train.checkpoint_every=10", "--config.train.log_every=5", "--config.train.eval_every=50"]


def _command(workdir: Path) -> list[str]:
    config = f"configs/tiny.py:steps={STEPS}"
    return [sys.executable, "-m", "launch.train", "--config", config, "--workdir", str(workdir), *COMMON]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=900)


def _train(workdir: Path) -> str:
    done = _run(_command(workdir))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _losses(stdout: str) -> dict[int, float]:
    return {int(m[1]): float(m[2]) for m in re.finditer(r"^step (\d+)/\d+ \| loss ([-+0-9.e]+)", stdout, re.M)}


def _params(model_dir: Path) -> dict[str, np.ndarray]:
    import jax
    from flax import nnx

    from voiceemo_jax.checkpoint_io import load_model

    model, _ = load_model(model_dir)
    leaves = jax.tree_util.tree_leaves_with_path(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny_run")
    return workdir, _train(workdir)


def test_tiny_config_trains_and_the_loss_falls(uninterrupted):
    workdir, stdout = uninterrupted
    assert "starting from scratch" in stdout
    losses = _losses(stdout)
    assert sorted(losses) == list(range(5, STEPS + 1, 5)), stdout
    # Single batches are noisy: the mean of the last four logged losses against the first.
    first, last = losses[5], np.mean([losses[s] for s in range(STEPS - 15, STEPS + 1, 5)])
    assert np.isfinite(list(losses.values())).all()
    assert last < 0.4 * first, losses
    assert (workdir / "model" / "voiceemo_model.json").is_file()
    assert (workdir / "final_metrics.json").is_file()
    # TensorBoard events were written.
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))


def test_rerunning_the_same_command_resumes_and_says_from_which_step(uninterrupted):
    workdir, _ = uninterrupted
    before = _params(workdir / "model")
    stdout = _train(workdir)
    assert f"resuming from step {STEPS}" in stdout
    assert _losses(stdout) == {}  # nothing left to train
    after = _params(workdir / "model")
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_kill_minus_9_then_rerun_matches_the_uninterrupted_run(uninterrupted, tmp_path):
    reference_dir, _ = uninterrupted
    workdir = tmp_path / "killed"
    process = subprocess.Popen(
        _command(workdir), cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    deadline = time.monotonic() + 600
    try:
        for line in process.stdout:
            # Killed after step 25 is logged: the step-20 checkpoint is complete or still being written.
            if line.startswith("step 25/"):
                break
            assert time.monotonic() < deadline, "the run never reached step 25"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (workdir / "model").exists()
    stdout = _train(workdir)
    resumed = re.search(r"resuming from step (\d+)", stdout)
    assert resumed and int(resumed[1]) in (10, 20), stdout
    reference, resumed_params = _params(reference_dir / "model"), _params(workdir / "model")
    assert reference.keys() == resumed_params.keys()
    worst = max(float(np.abs(reference[k] - resumed_params[k]).max()) for k in reference)
    assert worst <= 1e-6, worst


def test_exported_model_predicts(uninterrupted, tmp_path, speech_like):
    import soundfile as sf

    from voiceemo_jax.cli import main

    workdir, _ = uninterrupted
    wav = tmp_path / "speech.wav"
    sf.write(wav, speech_like(16000), 16000)
    out = tmp_path / "speech.npy"
    assert main(["predict", "--checkpoint", str(workdir / "model"), "--audio", str(wav), "--out", str(out)]) == 0
    coefficients = np.load(out)
    assert coefficients.shape == (30, 52) and np.isfinite(coefficients).all()


def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    # A huge learning rate: step 1 is finite, its update sends the parameters to ~1e30 and
    # the loss of a later step overflows.
    workdir = tmp_path / "diverges"
    overrides = ["learning_rate=1e30", "warmup_steps=0", "checkpoint_every=1", "log_every=1", "eval_every=0"]
    command = [sys.executable, "-m", "launch.train", "--config", "configs/tiny.py:steps=6", "--workdir", str(workdir)]
    command += [f"--config.train.{override}" for override in overrides]
    done = _run(command)
    assert done.returncode != 0
    message = re.search(r"non-finite loss at step (\d+) .*last good checkpoint: step (\d+)", done.stderr)
    assert message, done.stderr[-2000:]
    bad_step, good_step = int(message[1]), int(message[2])
    assert good_step == bad_step - 1
    steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps[-1] == good_step
    assert not (workdir / "model").exists()
