"""Training the classifier on ground-truth coefficient sequences, its checkpoint folder,
and the predict helper (`load_face_classifier` + `read_face_emotion`)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from tests.face_emotion.face_fixtures import TRAIN_STEPS, split_clips, train_classifier
from voiceemo_jax.errors import UserError
from voiceemo_jax.face_emotion.loading import CONFIG_FILE, load_face_classifier, read_face_emotion


def test_the_classifier_learns_the_emotions_the_fixture_faces_show(trained_classifier, fixture_build):
    metrics = trained_classifier["metrics"]
    assert metrics["step"] == TRAIN_STEPS
    assert metrics["eval/emotion_accuracy"] >= 0.9 and metrics["eval/level_accuracy"] >= 0.9
    reader = load_face_classifier(trained_classifier["classifier"])
    assert reader.emotion_labels[:3] == ("neutral", "calm", "happy") and reader.level_labels == ("normal", "strong")
    clips = split_clips(fixture_build, "test")  # an actor the classifier never saw
    emotion_logits, level_logits = reader.logits([c["targets"] for c in clips])
    emotions = np.array([c["emotion"] for c in clips])
    levels = np.array([c["level"] for c in clips])
    assert len(set(emotions)) == 8  # every emotion is there: chance is 1/8
    assert np.mean(emotion_logits.argmax(-1) == emotions) >= 0.9
    assert np.mean(level_logits.argmax(-1) == levels) >= 0.9


def test_read_face_emotion_gives_the_predict_json_entry(trained_classifier, fixture_build):
    reader = load_face_classifier(trained_classifier["classifier"])
    clip = next(c for c in split_clips(fixture_build, "test") if c["emotion"] == 4 and c["level"] == 1)
    targets, emotion, level = clip["targets"], clip["emotion"], clip["level"]
    read = read_face_emotion(reader, targets)
    json.dumps(read)  # ready for the JSON file as it is
    assert read["emotion"] == "angry" == reader.emotion_labels[emotion]
    assert read["emotion_labels"] == list(reader.emotion_labels)
    assert sum(read["emotion_probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert max(read["emotion_probabilities"], key=read["emotion_probabilities"].get) == "angry"
    assert read["level"] == level == 1 and read["level_label"] == "strong"
    assert read["classifier"] == str(trained_classifier["classifier"])
    # Padding cannot matter: the reader pads to its length buckets, a longer clip changes the bucket.
    longer = read_face_emotion(reader, np.concatenate([targets, targets]))
    assert longer["emotion"] == "angry"
    with pytest.raises(UserError, match=r"expected \[frames, 52\]"):
        read_face_emotion(reader, targets[:, :15])
    with pytest.raises(UserError, match="no frames"):
        read_face_emotion(reader, targets[:0])


def test_rerunning_the_command_resumes_from_its_checkpoint(trained_classifier, fixture_build, tmp_path, capsys):
    workdir = tmp_path / "run"
    shutil.copytree(trained_classifier["workdir"], workdir)
    capsys.readouterr()
    assert train_classifier(fixture_build, workdir, steps=TRAIN_STEPS + 4) == 0
    out = capsys.readouterr().out
    assert f"resuming from step {TRAIN_STEPS}" in out
    assert json.loads((workdir / "final_metrics.json").read_text())["step"] == TRAIN_STEPS + 4
    meta = json.loads((workdir / "face_classifier" / CONFIG_FILE).read_text())
    assert meta["source"]["step"] == TRAIN_STEPS + 4


def test_wrong_folders_are_clear_errors(trained_classifier, tmp_path):
    model_ckpt = tmp_path / "model"
    (model_ckpt / "params").mkdir(parents=True)
    (model_ckpt / "voiceemo_model.json").write_text("{}")
    with pytest.raises(UserError, match="is a VoiceEmo model checkpoint, not a face-emotion classifier"):
        load_face_classifier(model_ckpt)
    with pytest.raises(UserError, match="is a training workdir; the classifier is"):
        load_face_classifier(trained_classifier["workdir"])
    with pytest.raises(UserError, match="is not a folder"):
        load_face_classifier(tmp_path / "missing")
    broken = tmp_path / "broken"
    shutil.copytree(trained_classifier["classifier"], broken)
    (broken / CONFIG_FILE).write_text("{not json")
    with pytest.raises(UserError, match="is not valid JSON"):
        load_face_classifier(broken)


def test_a_dataset_with_a_single_emotion_cannot_train_a_classifier():
    from configs.face_emotion import get_config
    from voiceemo_jax.face_emotion.training import classifier_config

    vocaset_like = SimpleNamespace(dataset="vocaset", emotions=("neutral",), levels=("1",), target_dim=15069)
    with pytest.raises(UserError, match="needs at least two"):
        classifier_config(get_config(), vocaset_like)
    two = SimpleNamespace(dataset="x", emotions=("happy", "sad"), levels=("1",), target_dim=15)
    config = classifier_config(get_config(), two)
    assert config.input_dim == 15 and not config.has_level_head  # one level: no level head


def test_predict_json_gains_the_emotion_read_from_the_face(trained_classifier, tmp_path, capsys):
    """`voiceemo predict --face-classifier CKPT`: the face's emotion beside the voice's."""
    import soundfile

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.cli import main
    from voiceemo_jax.testing.random_models import random_model
    from voiceemo_jax.testing.signals import speech_like

    checkpoint = checkpoint_io.save_model(random_model("tiny", seed=3), tmp_path / "ckpt")
    soundfile.write(tmp_path / "a.wav", speech_like(24000, seed=1), 16000)
    out = tmp_path / "a.npy"
    argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(tmp_path / "a.wav"), "--out", str(out)]
    assert main(argv + ["--face-classifier", str(trained_classifier["classifier"])]) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    face = doc["face_emotion"]
    assert face["emotion"] in face["emotion_labels"] and doc["emotion"] in doc["emotion_labels"]
    assert sum(face["emotion_probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert np.load(out).shape == (45, 52)
    assert main(argv + ["--face-classifier", str(tmp_path)]) == 2  # not a classifier folder
    assert "face" in capsys.readouterr().err.lower()
