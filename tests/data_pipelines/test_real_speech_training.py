"""The real-voices training index (`python -m data_pipelines.sources.real_speech_training`) leaves out
every recording the real-speech benchmark tests on, and maps speakers, emotions and levels.

Fixtures are index.tsv files only: the module never reads the audio."""

from __future__ import annotations

from pathlib import Path

from data_pipelines.sources import real_speech_training
from data_pipelines.sources.corpus_index import write_tsv
from tests.data_pipelines.data_fixtures import read_tsv
from voiceemo_jax.evaluation import held_out_speech as held

COLUMNS = ("file", "speaker", "text", "emotion", "intensity")
TESS_WORDS = [f"w{letter}" for letter in "abcdefghijklmnopqrstuvwxy"]  # sorted: wj and wt are held out


def ravdess_rows():
    rows = []
    for actor in ("01", "17", "19", "20"):
        for code, emotion in (("02", "calm"), ("05", "angry")):
            for take in ("01", "02"):
                name = f"03-01-{code}-02-01-{take}-{actor}"
                text = "Kids are talking by the door"
                rows.append({"file": f"Actor_{actor}/{name}.wav", "speaker": actor, "text": text,
                             "emotion": emotion, "intensity": "strong"})  # fmt: skip
    return rows


def tess_rows():
    return [{"file": f"{speaker}_{word}_{emotion}.wav", "speaker": speaker, "text": f"Say the word {word}",
             "emotion": emotion, "intensity": ""}  # fmt: skip
            for speaker in ("OAF", "YAF") for word in TESS_WORDS for emotion in ("ps", "sad")]  # fmt: skip


def arctic_rows():
    return [{"file": f"{s}/arctic_a0001.wav", "speaker": s, "text": "Author of the danger trail.", "emotion": "",
             "intensity": ""} for s in ("axb", "bdl", "slt", "aew")]  # fmt: skip


def real_folder(root: Path) -> Path:
    for corpus, rows in (("ravdess", ravdess_rows()), ("tess", tess_rows()), ("cmu_arctic", arctic_rows())):
        (root / corpus).mkdir(parents=True)
        write_tsv(root / corpus / "index.tsv", rows, COLUMNS)
    return root


def test_training_index_leaves_out_every_benchmark_recording(tmp_path, capsys):
    data = real_folder(tmp_path / "real")
    out = tmp_path / "train"
    args = ["--data", str(data), "--out", str(out), "--corpora", "tess", "ravdess", "cmu_arctic"]
    assert real_speech_training.main(args) == 0
    rows = read_tsv(out / "index.tsv")
    speakers = {row["speaker"] for row in rows}
    assert speakers == {"ravdess_01", "ravdess_17", "tess_OAF", "tess_YAF", "cmu_arctic_axb", "cmu_arctic_aew"}
    words = {held.tess_word(row["text"]) for row in rows if row["speaker"].startswith("tess_")}
    assert words == set(TESS_WORDS) - {"wj", "wt"}
    # Kept: 2 RAVDESS actors x 4 + TESS 2 speakers x 23 words x 2 emotions + 2 ARCTIC speakers. Held out:
    # RAVDESS 19-20 x 4, TESS wj and wt x 2 speakers x 2 emotions, ARCTIC bdl and slt.
    assert len(rows) == 8 + 92 + 2
    assert "102 training recordings (18 held out)" in capsys.readouterr().out
    for corpus in ("tess", "ravdess", "cmu_arctic"):  # linked, not copied; every file under its corpus link
        assert (out / corpus).is_symlink() and (out / corpus).resolve() == (data / corpus).resolve()
    assert all(row["file"].split("/")[0] in ("tess", "ravdess", "cmu_arctic") for row in rows)
    ravdess = [row for row in rows if row["speaker"].startswith("ravdess_")]
    assert {row["emotion"] for row in ravdess} == {"neutral", "angry"}  # calm trains as neutral
    assert {row["level"] for row in ravdess} == {"strong"}
    tess = [row for row in rows if row["speaker"].startswith("tess_")]
    assert {row["emotion"] for row in tess} == {"surprise", "sad"} and {row["level"] for row in tess} == {"normal"}
    assert {row["emotion"] for row in rows if row["speaker"].startswith("cmu_arctic_")} == {"neutral"}


def test_smaller_builds_and_bad_arguments(tmp_path, capsys):
    data = real_folder(tmp_path / "real")
    rows, held_out = real_speech_training.training_rows(data, ["tess", "ravdess"], 2, ravdess_repetitions=1)
    tess_words = sorted({held.tess_word(r["text"]) for r in rows if r["speaker"].startswith("tess_")})
    assert tess_words == (sorted(set(TESS_WORDS) - {"wj", "wt"}))[::2]
    assert all(r["file"].endswith("-01-01.wav") or r["file"].endswith("-01-17.wav") for r in rows
               if r["speaker"].startswith("ravdess_"))  # fmt: skip
    assert held_out == 8 + 8  # RAVDESS 19-20, TESS wj and wt (2 speakers x 2 emotions x 2 words)
    args = ["--data", str(data), "--out", str(tmp_path / "o"), "--corpora", "cathy_arctic"]
    assert real_speech_training.main(args) == 2
    assert "no cathy_arctic/index.tsv" in capsys.readouterr().err
    assert not (tmp_path / "o" / "index.tsv").exists()
