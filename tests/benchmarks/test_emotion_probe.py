"""benchmarks/emotion_probe.py on a small made-up corpus pair: it splits RAVDESS by actor and TESS by
word as the benchmark's held-out lists say, trains, and writes its table and JSON."""

import json

import numpy as np
import pytest
import soundfile as sf

from benchmarks import emotion_probe
from voiceemo_jax.evaluation.held_out_speech import EMOTIONS


def _tone(path, pitch: float, seconds: float = 0.6):
    t = np.arange(round(seconds * 16000)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 16000)


@pytest.fixture
def real(tmp_path):
    rows = {"ravdess": ["file\tspeaker\ttext\temotion\tintensity"], "tess": ["file\tspeaker\ttext\temotion"]}
    for corpus in rows:
        (tmp_path / corpus).mkdir()
    for actor in ("01", "17", "19"):
        for i, emotion in enumerate((*EMOTIONS, "calm")):
            name = f"a{actor}_{emotion}.wav"
            _tone(tmp_path / "ravdess" / name, 120 + 40 * i)
            rows["ravdess"].append(f"{name}\t{actor}\tKids are talking by the door\t{emotion}\tnormal")
    for word in ("back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book"):
        for i, emotion in enumerate(EMOTIONS):
            name = f"OAF_{word}_{emotion}.wav"
            _tone(tmp_path / "tess" / name, 120 + 40 * i)
            rows["tess"].append(f"{name}\tOAF\tSay the word {word}.\t{emotion}")
    for corpus, lines in rows.items():
        (tmp_path / corpus / "index.tsv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_sets_follow_the_held_out_lists(real):
    sets = emotion_probe.load_sets(real, tuple(EMOTIONS))
    sizes = {name: len(clips) for name, (clips, _, _) in sets.items()}
    # Actor 01 (8 with calm as neutral) and TESS's nine training words; 17 and 19 without calm; one TESS word.
    assert sizes == {"train": 8 + 9 * 7, "validation": 7, "ravdess_held_out": 7, "tess_held_out": 7}
    assert set(sets["train"][2]) == {"ravdess", "tess"}


def test_probe_writes_its_table_and_json(real, tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert emotion_probe.main(["--data", str(real), "--frontend", "logmel_cnn", "--steps", "2", "--batch", "4",
                               "--eval-every", "1", "--json", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert [r["step"] for r in result["history"]] == [1, 2]
    assert all(
        0.0 <= r[k] <= 1.0 for r in result["history"] for k in ("validation", "ravdess_held_out", "tess_held_out")
    )
    assert "| 2 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        emotion_probe.main(["--data", str(tmp_path / "nothing")])
