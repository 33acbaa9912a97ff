"""`bash benchmarks/device_suite.sh --size tiny --out DIR` end to end on the CPU: every stage
runs (windowed, batched bf16 + fp32, the training step's batch search) and both result
files are written; peak fractions are null on a device without a known peak."""

from __future__ import annotations

import json
import subprocess

from subprocesses import ROOT, subprocess_env

from voiceemo_jax.testing.flops import dense_peak_tflops


def test_device_suite_tiny_runs_every_stage_and_writes_json_and_markdown(tmp_path):
    out = tmp_path / "suite"
    done = subprocess.run(
        # A budget no busy CPU reaches: every stage must run here (a GPU run keeps the default).
        ["bash", "benchmarks/device_suite.sh", "--size", "tiny", "--out", str(out), "--budget-seconds", "3000"],
        cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "device_suite.json").read_text())
    assert result["size"] == "tiny" and result["skipped"] == []
    assert result["machine"]["backend"] == "cpu" and result["dense_peak_tflops"] == {"bfloat16": None, "float32": None}

    rows = {(r["dtype"], r["batch"]): r for r in result["inference"]}
    assert set(rows) == {("bfloat16", 2), ("float32", 2)}
    for r in rows.values():
        assert r["seconds"] > 0 and r["achieved_tflops"] > 0 and r["fraction_of_peak"] is None
        assert r["real_time_factor"] == r["clip_seconds"] * r["batch"] / r["seconds"]
        assert r["gflop"] == 2 * result["gflop_per_clip"] > 0

    windowed = result["windowed"]
    assert windowed["windowed"] and windowed["finite"] and windowed["frames"] == 900  # 30 s at 30 fps
    assert windowed["peak_memory_mib"] is None  # the CPU keeps no device memory statistics

    training = result["training"]
    assert training["per_device_batch"] == 2 and training["tried"] == [{"per_device_batch": 2, "fits": True}]
    assert training["step_seconds"] > 0 and training["mfu"] is None
    # The compiled step recomputes the rematerialised forward: it executes more than the model's FLOPs.
    assert training["executed_tflop_per_step"] > training["model_tflop_per_step"] > 0

    markdown = (out / "device_suite.md").read_text()
    for heading in ("## Batched inference", "## Windowed inference", "## Training step"):
        assert heading in markdown


def test_dense_peaks_by_device_kind():
    got = [
        dense_peak_tflops("NVIDIA H200", "bfloat16"),
        dense_peak_tflops("NVIDIA H100 80GB HBM3", "float32"),
        dense_peak_tflops("NVIDIA H100 PCIe", "bfloat16"),
        dense_peak_tflops("NVIDIA H100 NVL", "bfloat16"),
        dense_peak_tflops("NVIDIA A100-SXM4-80GB", "bfloat16"),
        dense_peak_tflops("cpu", "float32"),
    ]
    assert got == [989.4, 494.7, 756.0, 835.5, None, None]
