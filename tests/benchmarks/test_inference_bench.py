"""`voiceemo bench inference` at the tiny size: the table, the JSON contract, and that both
sides really ran the same model (outputs agree at fp32). The benchmark runs as its user
runs it, in its own process; the FLOP count is the shared helper's (voiceemo_jax.testing)."""

import json
import subprocess
import sys

import pytest
from subprocesses import ROOT, subprocess_env

pytestmark = pytest.mark.heavy  # scheduled first (conftest.py)


def _run(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    command = [sys.executable, *argv]
    return subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)


def test_bench_inference_tiny_writes_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    # One configuration: each side's memory is read in its own fresh process (~8 s apiece).
    argv = ["-m", "voiceemo_jax.cli", "bench", "inference", "--size", "tiny", "--seconds", "2", "--batch-sizes", "2"]
    result = _run(*argv, "--repeats", "2", "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| tiny | 2 | 2 | 60 |" in result.stdout
    assert "matmul 2048^3 fp32" in result.stdout
    report = json.loads(out.read_text())
    assert report["frames"] == 60
    assert report["ratio"] == pytest.approx(report["torch_seconds"] / report["jax_seconds"])
    assert [(r["seconds"], r["batch"]) for r in report["results"]] == [(2.0, 2)]
    for row in report["results"]:
        assert row["jax_seconds"] > 0 and row["torch_seconds"] > 0 and row["gflop"] > 0
        assert row["jax_rtf"] == pytest.approx(row["seconds"] * row["batch"] / row["jax_seconds"])
        assert row["max_abs_difference"] < 1e-4  # identical weights on both sides
        # Memory from one fresh process per side: the call's rise, and the whole process's peak.
        for side in ("jax", "torch"):
            assert 0 < row[f"{side}_peak_mib"] < row[f"{side}_peak_total_mib"]
    assert report["machine"]["threads"] >= 1 and report["matmul_gflops"]["jax"] > 0


@pytest.mark.parametrize("flags, message", [(["--seconds", "0"], "--seconds must be positive"),
                                            (["--batch-sizes", "0"], "at least 1")])  # fmt: skip
def test_bench_inference_refuses_bad_flags(flags, message, tmp_path):
    result = _run("-m", "benchmarks.inference_bench", "--size", "tiny", "--json", str(tmp_path / "r.json"), *flags)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("inference_bench: error: ") and message in line
    assert not (tmp_path / "r.json").exists()


def test_flop_count_does_not_depend_on_the_attention_blocking(monkeypatch, speech_like):
    """XLA counts a loop body once: the count is taken on whole attention, so forcing the
    blocked form into many small loops must not change it."""
    from voiceemo_jax.inference.predictor import Predictor
    from voiceemo_jax.models import attention
    from voiceemo_jax.testing.flops import predictor_gflop
    from voiceemo_jax.testing.random_models import random_model

    predictor = Predictor(random_model("tiny"), window=None)
    clips = [speech_like(32000, seed=0)]
    whole = predictor_gflop(predictor, clips)
    monkeypatch.setattr(attention, "DEFAULT_BLOCK_BYTES", 64)  # one or two query rows per block
    assert predictor_gflop(predictor, clips) == pytest.approx(whole, rel=1e-9)
    assert whole > 0.05  # two tiny encoders and the decoder over 2 s: tens of MFLOP at least
