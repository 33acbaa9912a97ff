"""index.tsv from the corpora's own file names (`python -m data_pipelines.sources.corpus_index`).

Fixtures are empty files named as the corpora ship them (the audio is not read); where the shared
real-speech folder is present, the generated rows must equal its hand-made index.tsv."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_pipelines.sources import corpus_index
from tests.data_pipelines.data_fixtures import read_tsv

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "real_speech"


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_ravdess_names_give_speaker_text_emotion_and_intensity(tmp_path, capsys):
    touch(tmp_path, "Actor_03/03-01-06-02-02-01-03.wav", "Actor_03/03-02-06-02-02-01-03.wav",  # speech, song
          "Actor_03/notes.wav")  # fmt: skip
    assert corpus_index.main(["--corpus", "ravdess", "--root", str(tmp_path)]) == 0
    assert "1 recordings (1 left out)" in capsys.readouterr().out
    (row,) = read_tsv(tmp_path / "index.tsv")
    assert row == {"file": "Actor_03/03-01-06-02-02-01-03.wav", "speaker": "03", "text": "Dogs are sitting by the door",
                   "emotion": "fear", "intensity": "strong"}  # fmt: skip


def test_tess_and_arctic_names(tmp_path):
    tess = tmp_path / "tess"
    touch(tess, "YAF_pleasant_surprised/YAF_back_ps.wav", "OAF_angry/OA_bite_angry.wav", "x/readme.wav")
    assert corpus_index.write_index("tess", tess)["unmatched"] == ["x/readme.wav"]
    rows = {r["file"]: r for r in read_tsv(tess / "index.tsv")}
    assert rows["YAF_pleasant_surprised/YAF_back_ps.wav"]["text"] == "Say the word back."
    assert rows["YAF_pleasant_surprised/YAF_back_ps.wav"]["emotion"] == "ps"
    assert rows["OAF_angry/OA_bite_angry.wav"]["speaker"] == "OAF"

    arctic = tmp_path / "arctic"
    touch(arctic, "cmu_us_bdl_arctic/wav/arctic_a0001.wav", "cmu_us_bdl_arctic/wav/arctic_b9999.wav")
    (arctic / "cmu_us_bdl_arctic" / "etc").mkdir()
    (arctic / "cmu_us_bdl_arctic" / "etc" / "txt.done.data").write_text(
        '( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )\n'
    )
    result = corpus_index.write_index("cmu_arctic", arctic)
    assert result == {"recordings": 1, "unmatched": ["cmu_us_bdl_arctic/wav/arctic_b9999.wav"]}
    (row,) = read_tsv(arctic / "index.tsv")
    assert (row["speaker"], row["text"]) == ("bdl", "Author of the danger trail, Philip Steels, etc.")


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    assert corpus_index.main(["--corpus", "tess", "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "index.tsv").exists()
    assert corpus_index.main(["--corpus", "cmu_arctic", "--root", str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize("corpus", ["ravdess", "tess"])
def test_rows_equal_the_shared_folders_index(corpus):
    root = SHARED / corpus
    if not (root / "index.tsv").is_file():
        pytest.skip("no shared real-speech folder")
    rows, unmatched = corpus_index.CORPORA[corpus](root)
    expected = read_tsv(root / "index.tsv")
    assert not unmatched and len(rows) == len(expected)
    mine = {r["file"]: r for r in rows}
    for row in expected:
        got = mine[row["file"]]
        emotion = row.get("tess_emotion") or row["emotion"]
        assert (got["speaker"], got["text"], got["emotion"]) == (row["speaker"], row["text"], emotion), row
        assert got["intensity"] == row.get("intensity", "")
