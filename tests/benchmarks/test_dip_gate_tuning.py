"""benchmarks/dip_gate_tuning.py: the grid over the dip gate's three numbers, on eight prompts of each
tuning voice (read from the shared real-speech folder, never copied into the project; skipped where
it is absent), and its one-line error for a folder without the tuning voices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import dip_gate_tuning
from voiceemo_jax.inference import pauses

pytestmark = pytest.mark.heavy  # scheduled first (conftest.py)

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real_speech"


@pytest.mark.skipif(not (REAL / "cathy_arctic" / "index.tsv").is_file(), reason="no shared real-speech folder")
def test_the_grid_scores_every_point_and_ranks_the_shipped_one(tmp_path, capsys):
    out = tmp_path / "tuning.json"
    assert dip_gate_tuning.main(["--data", str(REAL), "--clips", "8", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    points = results["points"]
    assert len(points) == len(dip_gate_tuning.RADII) * len(dip_gate_tuning.FREE_DB) * len(dip_gate_tuning.SPAN_DB)
    scores = [p["score"] for p in points]
    assert all(np.isfinite(scores)) and scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    assert results["clips_per_voice"] == {"aew": 8, "axb": 8, "cathy": 8}
    shipped = {"radius": pauses.DIP_RADIUS_FRAMES, "free_db": pauses.DIP_FREE_DB, "span_db": pauses.DIP_SPAN_DB}
    assert results["shipped"] == shipped and 1 <= results["shipped_rank"] <= len(points)
    for row in (results["no_gate"], *points[:3]):  # a point's score: the mean over voices of r + both AUCs
        assert row["score"] == pytest.approx(np.mean([sum(v.values()) for v in row["voices"].values()]))
    assert results["no_gate"]["score"] != scores[0]  # the best gate moves the figures
    assert "shipped defaults (rank" in capsys.readouterr().out


def test_a_folder_without_the_tuning_voices_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "cmu_arctic").mkdir()
    assert dip_gate_tuning.main(["--data", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("dip_gate_tuning: error:") and "cmu_arctic/index.tsv" in error
