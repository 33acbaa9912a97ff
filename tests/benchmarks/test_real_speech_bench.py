"""benchmarks/real_speech.py's neutral-emotion diagnostic: which recording gives the emotion, and
that every clip's prediction reads its emotion from it (batched and windowed paths alike)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import real_speech
from voiceemo_jax.errors import UserError

HEADER = "file\tspeaker\ttext\temotion\n"


def _index(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.tsv").write_text(HEADER + "".join("\t".join(row) + "\n" for row in rows))


def test_the_neutral_recording_is_the_first_held_out_neutral_ravdess_clip(tmp_path, capsys):
    _index(tmp_path / "ravdess", [
        ("a/01-neutral.wav", "01", "Kids are talking by the door", "neutral"),  # trained on
        ("b/20-neutral.wav", "20", "Kids are talking by the door", "neutral"),
        ("b/19-angry.wav", "19", "Kids are talking by the door", "angry"),
        ("b/19-neutral.wav", "19", "Dogs are sitting by the door", "neutral"),
    ])  # fmt: skip
    assert real_speech.neutral_recording(tmp_path).path.name == "19-neutral.wav"

    _index(tmp_path / "ravdess", [("b/19-angry.wav", "19", "Kids are talking by the door", "angry")])
    with pytest.raises(UserError, match="no held-out neutral"):
        real_speech.neutral_recording(tmp_path)
    for corpus in ("ljspeech", "tess"):
        _index(tmp_path / corpus, [])
    assert real_speech.main(["--data", str(tmp_path), "--arctic-speakers"]) == 2
    assert "no held-out neutral RAVDESS recording" in capsys.readouterr().err


class _Recorder:
    """A predictor that records the emotion audio each clip was predicted with."""

    def __init__(self, window: int):
        self.window, self.calls = window, []

    def needs_window(self, samples: int) -> bool:
        return samples > self.window

    def predict_batch(self, clips, *, levels, persons, emotion_clips=None):
        emotion = [None] * len(clips) if emotion_clips is None else emotion_clips
        self.calls += [("batch", len(c), e) for c, e in zip(clips, emotion)]
        return [len(c) for c in clips]

    def predict(self, audio, *, level, person, emotion_audio=None):
        self.calls.append(("windowed", len(audio), emotion_audio))
        return len(audio)


@pytest.mark.parametrize("with_emotion_audio", [False, True])
def test_predict_all_reads_every_clips_emotion_from_the_given_audio(with_emotion_audio):
    predictor = _Recorder(window=100)
    audio = [np.zeros(n, np.float32) for n in (50, 300, 20)]
    emotion = np.ones(40, np.float32) if with_emotion_audio else None
    assert real_speech.predict_all(predictor, audio, emotion) == [50, 300, 20]  # in the clips' order
    assert sorted((kind, n) for kind, n, _ in predictor.calls) == [("batch", 20), ("batch", 50), ("windowed", 300)]
    assert all((e is emotion) for _, _, e in predictor.calls)
