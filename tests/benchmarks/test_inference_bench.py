"""`voiceemo bench inference` at the tiny size: the table, the JSON contract, and that both
sides really ran the same model (outputs agree at fp32)."""

import json

import pytest

from voiceemo_jax.cli import main


def test_bench_inference_tiny_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "inference", "--size", "tiny", "--seconds", "2", "--batch-sizes", "1", "2"]
    assert main(argv + ["--repeats", "2", "--json", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| tiny | 2 | 1 | 60 |" in printed and "| tiny | 2 | 2 | 60 |" in printed
    assert "matmul 2048^3 fp32" in printed
    report = json.loads(out.read_text())
    assert report["frames"] == 60
    assert report["ratio"] == pytest.approx(report["torch_seconds"] / report["jax_seconds"])
    assert [(r["seconds"], r["batch"]) for r in report["results"]] == [(2.0, 1), (2.0, 2)]
    for row in report["results"]:
        assert row["jax_seconds"] > 0 and row["torch_seconds"] > 0 and row["gflop"] > 0
        assert row["jax_rtf"] == pytest.approx(row["seconds"] * row["batch"] / row["jax_seconds"])
        assert row["max_abs_difference"] < 1e-4  # identical weights on both sides
    assert report["machine"]["threads"] >= 1 and report["matmul_gflops"]["jax"] > 0


@pytest.mark.parametrize("flags, message", [(["--seconds", "0"], "--seconds must be positive"),
                                            (["--batch-sizes", "0"], "at least 1")])  # fmt: skip
def test_bench_inference_refuses_bad_flags(flags, message, capsys):
    assert main(["bench", "inference", "--size", "tiny", *flags]) == 2
    assert message in capsys.readouterr().err
