"""`voiceemo bench scaling` at the tiny size: which paths run at which length, and that every
cell is a real measurement from its own process."""

import json

from benchmarks.scaling_bench import cells_for
from voiceemo_jax.cli import main


def test_paths_per_length_follow_the_window_and_the_release_limit():
    assert cells_for(2) == ["jax", "torch"]  # up to the 20 s window the windowed path runs whole
    assert cells_for(20) == ["jax", "torch"]
    assert cells_for(60) == ["jax", "jax-windowed", "torch"]
    assert cells_for(166.6) == ["jax", "jax-windowed", "torch"]  # 4998 frames
    assert cells_for(166.7) == ["jax", "jax-windowed"]  # 5001 frames: past the release's table
    assert cells_for(600) == ["jax", "jax-windowed"]


def test_bench_scaling_tiny_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "results" / "scaling.json"
    assert main(["bench", "scaling", "--size", "tiny", "--seconds", "25", "--json", str(out), "--no-progress"]) == 0
    assert "| 25 | 750 |" in capsys.readouterr().out
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert set(row) == {"seconds", "jax", "jax-windowed", "torch"}
    for side in ("jax", "jax-windowed", "torch"):
        cell = row[side]
        assert cell["side"] == side and cell["frames"] == 750
        assert cell["run_seconds"] > 0 and cell["peak_mib"] > cell["loaded_mib"] > 100  # a whole process
    assert report["machine"]["cpu_count"] >= 1


def test_bench_scaling_refuses_bad_lengths(capsys):
    assert main(["bench", "scaling", "--size", "tiny", "--seconds", "-1"]) == 2
    assert "--seconds and --timeout must be positive" in capsys.readouterr().err
