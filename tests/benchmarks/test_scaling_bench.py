"""`voiceemo bench scaling` at the tiny size: which paths run at which length, that a cell
that fails is reported in the table instead of ending it, and that every cell is a real
measurement from its own process. The benchmark runs in its own process, as a user runs it."""

import json
import subprocess
import sys

from subprocesses import ROOT, subprocess_env


def _run(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    command = [sys.executable, *argv]
    return subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)


def test_paths_per_length_follow_the_window_and_the_release_limit_and_failed_cells_are_reported(tmp_path):
    # A 0.01 s limit per cell: every probe process is stopped at once, so this costs no model
    # run, and each cell must still appear in the table with the reason it has no numbers.
    out = tmp_path / "scaling.json"
    seconds = ["2", "20", "60", "166.6", "166.7", "600"]
    argv = ["-m", "benchmarks.scaling_bench", "--size", "tiny", "--seconds", *seconds, "--timeout", "0.01"]
    result = _run(*argv, "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    sides = {row["seconds"]: sorted(set(row) - {"seconds"}) for row in rows}
    assert sides == {
        2.0: ["jax", "torch"],  # up to the 20 s window the windowed path runs whole
        20.0: ["jax", "torch"],
        60.0: ["jax", "jax-windowed", "torch"],
        166.6: ["jax", "jax-windowed", "torch"],  # 4998 frames
        166.7: ["jax", "jax-windowed"],  # 5001 frames: past the release's table
        600.0: ["jax", "jax-windowed"],
    }
    for row in rows:
        for side in set(row) - {"seconds"}:
            assert row[side] == {"error": "did not finish within 0.01 s"}, (row["seconds"], side)
    assert "| 166.7 | - | error: did not finish within 0.01 s | error: did not finish within 0.01 s | - |" in (
        result.stdout
    )


def test_bench_scaling_tiny_writes_table_and_json(tmp_path):
    out = tmp_path / "results" / "scaling.json"
    argv = ["-m", "voiceemo_jax.cli", "bench", "scaling", "--size", "tiny", "--seconds", "25"]
    result = _run(*argv, "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| 25 | 750 |" in result.stdout
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert set(row) == {"seconds", "jax", "jax-windowed", "torch"}
    for side in ("jax", "jax-windowed", "torch"):
        cell = row[side]
        assert cell["side"] == side and cell["frames"] == 750
        assert cell["run_seconds"] > 0 and cell["peak_mib"] > cell["loaded_mib"] > 100  # a whole process
    assert report["machine"]["cpu_count"] >= 1


def test_bench_scaling_refuses_bad_lengths(tmp_path):
    result = _run("-m", "benchmarks.scaling_bench", "--size", "tiny", "--seconds", "-1")
    assert result.returncode == 2
    assert result.stderr.strip() == "scaling_bench: error: --seconds and --timeout must be positive"
