"""The persistent XLA compilation cache of `voiceemo predict` / `demo`: in the user's cache folder,
hit by a repeat run, off with VOICEEMO_COMPILE_CACHE=0, and never in the way of a cache the caller set."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile

from tests.subprocesses import subprocess_env
from voiceemo_jax.inference import compile_cache

HIT = "Persistent compilation cache hit"
MISS = "PERSISTENT COMPILATION CACHE MISS"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.testing.random_models import random_model

    return checkpoint_io.save_model(random_model("tiny"), tmp_path_factory.mktemp("compile_cache") / "ckpt")


def _predict(checkpoint, audio, out, home) -> str:
    """Runs `voiceemo predict` as a user would, with `home` as $HOME and $XDG_CACHE_HOME/..; returns stderr."""
    env = subprocess_env()
    for name in ("JAX_COMPILATION_CACHE_DIR", "VOICEEMO_CACHE", compile_cache.ENV_SWITCH):
        env.pop(name, None)
    # jax's compiler logs every persistent-cache hit and miss at debug level.
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), JAX_DEBUG_LOG_MODULES="jax._src.compiler")
    command = [sys.executable, "-m", "voiceemo_jax.cli", "predict", "--checkpoint", str(checkpoint)]
    command += ["--audio", str(audio), "--out", str(out), "--no-progress", "--window-seconds", "0"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_a_repeat_predict_loads_every_program_from_the_user_cache(tiny_checkpoint, speech_like, tmp_path):
    audio = tmp_path / "clip.wav"
    soundfile.write(audio, speech_like(16000), 16000)
    home = tmp_path / "home"
    first = _predict(tiny_checkpoint, audio, tmp_path / "first.npy", home)
    folder = home / "cache" / "voiceemo" / "xla"
    entries = sorted(folder.glob("*-cache"))  # one per compiled program (beside LRU "-atime" stamps)
    assert entries and first.count(MISS) == len(entries) and HIT not in first
    second = _predict(tiny_checkpoint, audio, tmp_path / "second.npy", home)
    # Every program compiled by the first run comes from disk: hits, no miss, no new entry.
    assert second.count(HIT) == len(entries) and MISS not in second
    assert sorted(folder.glob("*-cache")) == entries
    np.testing.assert_array_equal(np.load(tmp_path / "first.npy"), np.load(tmp_path / "second.npy"))


def test_cache_folder_follows_the_user_cache_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("VOICEEMO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.compile_cache_dir() == tmp_path / "xdg" / "voiceemo" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache.compile_cache_dir() == tmp_path / "home" / ".cache" / "voiceemo" / "xla"
    monkeypatch.setenv("VOICEEMO_CACHE", str(tmp_path / "own"))
    assert compile_cache.compile_cache_dir() == tmp_path / "own" / "xla"


def test_a_cache_the_caller_set_is_kept_and_the_switch_turns_it_off(monkeypatch, tmp_path):
    import jax

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VOICEEMO_CACHE", raising=False)
    before = jax.config.jax_compilation_cache_dir
    # The test session set JAX_COMPILATION_CACHE_DIR (conftest.py): that cache stays in use.
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "callers"))
    assert compile_cache.enable_compile_cache() == tmp_path / "callers"
    # Turned off: no cache, whoever configured one, and no folder created.
    monkeypatch.setenv(compile_cache.ENV_SWITCH, "0")
    assert compile_cache.enable_compile_cache() is None
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    assert compile_cache.enable_compile_cache() is None
    assert jax.config.jax_compilation_cache_dir == before and not (tmp_path / "xdg").exists()
