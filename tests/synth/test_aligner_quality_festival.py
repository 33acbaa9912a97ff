"""benchmarks.aligner_quality against a synthetic corpus: festival's own phone times as the exact reference."""

from __future__ import annotations

import json

import pytest

from benchmarks import aligner_quality


def test_the_aligner_is_unbiased_against_festivals_phone_times(tiny_corpus, tmp_path):
    root, corpus = tiny_corpus
    references = aligner_quality.festival_references(root)
    assert len(references) == len(corpus["voices"]) * len(corpus["sentences"])  # the neutral clips
    assert {name for r in references for name, _, _ in r.phones} >= {"sil", "ah"}  # pau and ax renamed
    result = aligner_quality.evaluate(references, "tiny corpus")
    errors = result["boundary_error_ms"]
    assert result["clips"] == len(references) and not result["failed"]
    assert result["phones_matched"] >= 0.85 * result["reference_phones"]
    assert abs(errors["bias"]) <= 10.0 and errors["median"] <= 20.0, errors
    assert result["frame_agreement"]["10 ms"]["speech"] >= 0.8

    # The same references 30 ms late: the aligner now reads 30 ms early.
    late = [r._replace(phones=[(n, a + 0.03, b + 0.03) for n, a, b in r.phones]) for r in references[:3]]
    shifted = aligner_quality.evaluate(late, "late")["boundary_error_ms"]["bias"]
    assert -40.0 <= shifted <= -20.0

    out = tmp_path / "festival.json"
    assert aligner_quality.main(["--festival", str(root), "--limit", "2", "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["clips"] == 2 and written["data"] == "corpus (festival's phone times, neutral clips)"


def test_an_unknown_emotion_is_a_one_line_error(tiny_corpus, capsys):
    root, _ = tiny_corpus
    assert aligner_quality.main(["--festival", str(root), "--emotion", "bored"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--emotion bored" in error and "neutral" in error
    with pytest.raises(SystemExit):
        aligner_quality.main(["--festival", str(root), "--data", str(root)])  # one reference at a time
