"""Training options beyond the default path: rematerialisation (same numbers), bf16 compute
with fp32 master parameters, fine-tuning from a converted release checkpoint, and SIGTERM
(preemption) saving a checkpoint that the next run resumes from."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from subprocesses import ROOT, subprocess_env

from voiceemo_jax.errors import UserError
from voiceemo_jax.testing.batches import synthetic_triplet_batch

pytestmark = pytest.mark.heavy  # scheduled first (conftest.py)


def _one_step(**model_options):
    from configs.tiny import get_config
    from voiceemo_jax.models import presets
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    for key, value in model_options.items():
        config.model[key] = value
    mesh = sharding.make_mesh(1, 1, devices=jax.devices()[:1])
    fns = trainer.build_train_functions(config, presets.model_config("tiny"), mesh, triplets=True, has_emotions=True)
    state = jax.jit(fns.init_state, static_argnums=0, out_shardings=fns.state_shardings)(0)
    initial = jax.device_get(state["params"])
    batch = sharding.global_batch(synthetic_triplet_batch(8, samples=8000), mesh)
    for _ in range(2):  # the first step has learning rate 0 (warm-up); the second moves the parameters
        state, metrics = fns.train_step(state, batch, jax.random.key(0))
    return initial, jax.device_get(state["params"]), {k: float(v) for k, v in metrics.items()}


@pytest.fixture(scope="module")
def fp32_step():
    return _one_step()


def test_a_frozen_emotion_encoder_stays_bit_identical_while_the_rest_trains(fp32_step):
    """Frozen parameters enter the loss through stop_gradient: no update, and the loss of the
    first step is the same as without freezing."""
    initial, params, metrics = _one_step(freeze_emotion_encoder=True)
    for part in initial:
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(initial[part]), jax.tree.leaves(params[part])))
        assert same == (part == "emotion_encoder"), part
    fp32_initial, trained, _ = fp32_step
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(initial), jax.tree.leaves(fp32_initial)))
    pairs = zip(jax.tree.leaves(initial["emotion_encoder"]), jax.tree.leaves(trained["emotion_encoder"]))
    assert not all(np.array_equal(a, b) for a, b in pairs)  # unfrozen, the same step moves it
    assert np.isfinite(metrics["loss/total"])


def test_remat_gives_the_same_step(fp32_step):
    _, params, metrics = fp32_step
    _, remat_params, remat_metrics = _one_step(remat=True)
    assert remat_metrics["loss/total"] == pytest.approx(metrics["loss/total"], rel=1e-5)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(remat_params)))
    assert worst <= 1e-5


def test_bfloat16_compute_keeps_float32_master_parameters(fp32_step):
    _, params, metrics = fp32_step
    _, bf16_params, bf16_metrics = _one_step(dtype="bfloat16")
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(bf16_params))
    assert np.isfinite(bf16_metrics["loss/total"])
    # bf16 has 8 bits of mantissa: the loss agrees to a few percent, not to fp32 rounding.
    assert bf16_metrics["loss/total"] == pytest.approx(metrics["loss/total"], rel=0.05)
    assert bf16_metrics["loss/total"] != metrics["loss/total"]  # the option really changed the compute


def test_init_from_a_converted_release_checkpoint_loads_matching_parameters(release, fp32_step):
    from flax import nnx

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.training.initialization import load_init_from

    _, params, _ = fp32_step
    host = jax.tree.map(np.asarray, params)
    if release.variant != "layer":  # the tiny config's encoders are the layer-norm variant
        pytest.skip("one variant is enough")
    loaded_params, loaded, fresh = load_init_from(host, release.checkpoint)
    source, _ = checkpoint_io.load_model(release.checkpoint)
    source = nnx.to_pure_dict(nnx.state(source, nnx.Param))
    assert len(loaded) > 50 and len(loaded) + len(fresh) == len(jax.tree.leaves(host))
    kernel = loaded_params["morph_synthesizer"]["bs_map_r"]["kernel"]
    np.testing.assert_array_equal(kernel, np.asarray(source["morph_synthesizer"]["bs_map_r"]["kernel"]))
    with pytest.raises(UserError, match="not a VoiceEmo-JAX model checkpoint"):
        load_init_from(host, release.checkpoint.parent / "nothing_here")


def test_sigterm_saves_a_checkpoint_and_the_next_run_resumes_from_it(tmp_path):
    workdir = tmp_path / "preempted"
    # The resumed run is the same command: the same schedule, so the compiled step is reused.
    command = [sys.executable, "-m", "launch.train", "--config", "configs/tiny.py:steps=30", "--workdir",
               str(workdir), "--config.train.checkpoint_every=1000", "--config.train.log_every=5",
               "--config.train.eval_every=0"]  # fmt: skip
    env = subprocess_env()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("step 10/"):
            process.send_signal(signal.SIGTERM)
            break
    rest, _ = process.communicate(timeout=300)
    assert process.returncode == 0, "".join(lines) + rest
    saved = re.search(r"SIGTERM: saved checkpoint at step (\d+)", rest)
    assert saved, rest
    step = int(saved[1])
    assert 10 <= step < 30 and (workdir / "checkpoints" / str(step)).is_dir()
    assert not (workdir / "model").exists()  # a preempted run is not finished
    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from step {step}" in resumed.stdout
    assert (workdir / "model" / "voiceemo_model.json").is_file()
