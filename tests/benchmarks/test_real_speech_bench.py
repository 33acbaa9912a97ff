"""benchmarks/real_speech.py's neutral-emotion diagnostic: which recording gives the emotion, and
that every clip's prediction reads its emotion from it (batched and windowed paths alike); the
emotion sets' accuracy with its interval."""

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


def test_accuracy_interval_is_the_wilson_score_interval():
    correct, total, z = 53, 104, 1.959964  # the shipped model on RAVDESS actors 19-20
    p = correct / total
    centre = (p + z**2 / (2 * total)) / (1 + z**2 / total)
    half = z / (1 + z**2 / total) * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2))
    low, high = real_speech.accuracy_interval(correct, total)
    assert low == pytest.approx(centre - half, abs=1e-6) and high == pytest.approx(centre + half, abs=1e-6)
    assert 0.40 < low < p < high < 0.61
    wide, narrow = real_speech.accuracy_interval(5, 10), real_speech.accuracy_interval(500, 1000)
    assert wide[1] - wide[0] > 3 * (narrow[1] - narrow[0])
    assert real_speech.accuracy_interval(0, 20)[0] == 0.0 and real_speech.accuracy_interval(20, 20)[1] == 1.0
    assert all(np.isnan(real_speech.accuracy_interval(0, 0)))


class _Guesser:
    """A predictor that reads every clip as the emotion named by its length (index into its labels)."""

    emotion_labels = ("neutral", "angry", "disgust", "fear", "happy", "sad", "surprise", "calm")

    def needs_window(self, samples: int) -> bool:
        return False

    def predict_batch(self, clips, *, levels, persons, emotion_clips=None):
        class Prediction:
            def __init__(self, label):
                self.emotion_logits = np.eye(len(_Guesser.emotion_labels))[label]

        return [Prediction(len(c) // 100) for c in clips]


def test_an_emotion_set_counts_the_right_guesses_and_gives_their_interval(tmp_path, monkeypatch):
    from voiceemo_jax.evaluation import held_out_speech as held

    labels = _Guesser.emotion_labels
    guesses = {"a": "angry", "b": "sad", "c": "sad", "d": "fear"}  # the length each clip gets
    monkeypatch.setattr(real_speech, "load", lambda path: np.zeros(100 * labels.index(guesses[path.stem]) + 50))
    truth = {"a": "angry", "b": "sad", "c": "happy", "d": "fear"}
    recordings = [held.Recording("ravdess", tmp_path / f"{k}.wav", "19", "", truth[k]) for k in guesses]
    result = real_speech.emotion_set(_Guesser(), recordings)
    assert result["clips"] == 4 and result["correct"] == 3 and result["accuracy"] == 0.75
    assert result["interval95"] == pytest.approx(list(real_speech.accuracy_interval(3, 4)))
    assert result["per_emotion"]["happy"] == 0.0 and result["per_emotion"]["angry"] == 1.0
    row = real_speech.table({"lip_sync": {}, "emotion": {"held-out": result}}).splitlines()[-1]
    low, high = result["interval95"]
    assert row == f"| held-out | 4 | 75.0% | {low:.1%}-{high:.1%} |"


def test_the_table_gives_each_signals_interval_above_loudness():
    measures = {"correlation": 0.5, "auc_open_vs_bilabial": 0.9, "auc_open_vs_m": 0.8}
    lip = {"clips": 32, "model": measures, "loudness": measures, "ceiling": measures,
           "minus_loudness95": {"model": {"correlation": [0.12, 0.25], "auc_open_vs_bilabial": [-0.031, 0.04],
                                          "auc_open_vs_m": [0.02, 0.1]}}}  # fmt: skip
    lines = real_speech.table({"lip_sync": {"LJSpeech": lip}, "emotion": {}}).splitlines()
    assert "| LJSpeech | model | +0.120 to +0.250 | -0.031 to +0.040 | +0.020 to +0.100 |" in lines


def _frame_rms(audio):
    """A stand-in model whose mouth opening is each 1/30 s frame's RMS (30 frames a second)."""
    step = 16000 // 30
    frames = -(-len(audio) // step)
    return np.array([np.sqrt(np.mean(np.square(audio[i * step : (i + 1) * step]))) for i in range(frames)])


def test_pause_figures_read_the_middle_of_each_pause_and_the_silent_clip():
    speech = (0.5 * np.sin(np.arange(32000) * 0.05)).astype(np.float32)  # 2 s, RMS 0.354
    streamed_calls = []

    def streamed(audio):
        streamed_calls.append(len(audio))
        return _frame_rms(audio) + 1.0  # told apart from the whole-clip figure

    figures = real_speech.pause_figures(_frame_rms, streamed, speech)
    assert figures["silent clip (3 s)"] == 0.0
    assert figures["speech (whole clip)"] == pytest.approx(0.354, abs=0.01)
    assert figures["pause, digital silence"] == {"whole clip": 0.0, "streamed": 1.0}  # no speech frame read
    for name, dbfs in (("noise at -60 dBFS", -60), ("noise at -40 dBFS", -40)):
        level = 20 * np.log10(figures[f"pause, {name}"]["whole clip"])
        assert level == pytest.approx(dbfs, abs=0.5)
    assert streamed_calls == [len(speech) * 2 + 8 * 16000] * 3
    again = real_speech.pause_figures(_frame_rms, streamed, speech)
    assert again == figures  # seeded noise
    table = real_speech.table({"lip_sync": {}, "emotion": {}, "pauses": figures})
    assert "| 8 s pause, noise at -40 dBFS | 0.010 | 1.010 |" in table


def test_opening_scores_score_the_given_openings_beside_loudness_and_the_ceiling():
    from voiceemo_jax.evaluation.lip_sync import PhoneInterval

    phones = [PhoneInterval(name, start, end) for name, start, end in
              (("aa", 0.2, 0.6), ("m", 0.6, 1.0), ("aa", 1.0, 1.4), ("p", 1.4, 1.8))]  # fmt: skip
    audio = np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1
    ceiling = real_speech.ceiling_opening(phones, 60)
    scores = real_speech.opening_scores([(audio, phones)] * 2, [ceiling, ceiling])
    assert scores["model"] == scores["ceiling"] and scores["model"]["auc_open_vs_m"] == 1.0
    upside_down = real_speech.opening_scores([(audio, phones)] * 2, [-ceiling, -ceiling])
    assert upside_down["model"]["auc_open_vs_bilabial"] == 0.0 and scores["clips"] == 2
