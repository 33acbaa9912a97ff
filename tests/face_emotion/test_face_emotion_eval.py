"""`voiceemo eval --face-classifier`: the emotion the face classifier reads from generated
animations, next to its accuracy on the ground truth (the ceiling)."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from tests.face_emotion.face_fixtures import split_clips
from voiceemo_jax.cli import main
from voiceemo_jax.evaluation.evaluate import Evaluation, evaluate
from voiceemo_jax.evaluation.report import summary_lines
from voiceemo_jax.inference.predictor import Prediction
from voiceemo_jax.models.presets import RELEASE_EMOTIONS


class FixedFacePredictor:
    """Returns, per clip id, `face(clip)` as the generated animation (clips from `split_clips`)."""

    def __init__(self, clips, face):
        self.clips = {c["clip_id"]: c for c in clips}
        self.face = face
        self.config = types.SimpleNamespace(synthesizer=types.SimpleNamespace(num_levels=2, num_persons=24))
        self.emotion_labels = RELEASE_EMOTIONS
        self.output_dim = 52

    def predict_batch(self, clips, *, levels, persons, names):
        logits = np.zeros(len(RELEASE_EMOTIONS), np.float32)
        return [Prediction(self.face(self.clips[name]), logits, RELEASE_EMOTIONS) for name in names]


def _evaluate(build, classifier, face):
    predictor = FixedFacePredictor(split_clips(build, "test"), face)
    options = Evaluation(
        checkpoint="fixed", data_dir=build, split="test", batch_size=4, progress=False, face_classifier=classifier
    )
    return evaluate(options, predictor=predictor).report


def test_faces_that_match_the_ground_truth_reach_the_ceiling(fixture_build, trained_classifier):
    report = _evaluate(fixture_build, trained_classifier["classifier"], lambda clip: clip["targets"].copy())
    face = report["face_emotion"]
    assert face["evaluated_clips"] == 30 and face["clips_without_classifier_label"] == 0
    assert face["ground_truth"]["accuracy"] >= 0.9
    assert face["generated"]["accuracy"] == face["ground_truth"]["accuracy"]
    assert face["generated_agrees_with_ground_truth"] == 1.0
    assert face["generated"]["level_accuracy"] == face["ground_truth"]["level_accuracy"] >= 0.9
    assert np.sum(face["generated"]["confusion_matrix"]) == 30
    for entry in report["per_clip"]:
        assert entry["face_emotion_generated"] == entry["face_emotion_ground_truth"]


def test_an_expressionless_face_scores_below_the_ceiling(fixture_build, trained_classifier):
    from data_pipelines.sources.learnable_fixture import EXPRESSION_CHANNELS

    def speech_only(clip):  # the mouth still moves, the upper face (the emotion) does not
        face = clip["targets"].copy()
        face[:, list(EXPRESSION_CHANNELS)] = 0.0
        return face

    report = _evaluate(fixture_build, trained_classifier["classifier"], speech_only)
    face = report["face_emotion"]
    generated = [entry["face_emotion_generated"] for entry in report["per_clip"]]
    assert len(set(generated)) == 1  # every clip reads as the same (neutral-looking) emotion
    true = [entry["emotion"] for entry in report["per_clip"]]
    expected = np.mean([t == generated[0] for t in true])
    assert face["generated"]["accuracy"] == pytest.approx(expected)
    assert face["generated"]["accuracy"] < 0.2 < face["ground_truth"]["accuracy"]
    assert any("emotion read from the face" in line for line in summary_lines(report))


def test_eval_command_reports_both_accuracies(fixture_build, trained_classifier, tmp_path, capsys):
    """The real path: a tiny random-weight checkpoint, `voiceemo eval --face-classifier`."""
    import jax
    from flax import nnx

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.models import presets
    from voiceemo_jax.models.voiceemo import VoiceEmo

    config = presets.model_config("tiny")
    params = jax.jit(lambda: nnx.to_pure_dict(nnx.state(VoiceEmo(config, rngs=nnx.Rngs(0)), nnx.Param)))()
    checkpoint = checkpoint_io.save_params(params, config, tmp_path / "model")
    out = tmp_path / "report"
    argv = ["eval", "--checkpoint", str(checkpoint), "--data", str(fixture_build), "--split", "test",
            "--max-clips", "6", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv + ["--face-classifier", str(trained_classifier["classifier"])]) == 0
    report = json.loads((out / "report.json").read_text())
    face = report["face_emotion"]
    assert face["classifier"] == str(trained_classifier["classifier"]) and face["evaluated_clips"] == 6
    assert 0.0 <= face["generated"]["accuracy"] <= 1.0 and face["ground_truth"]["accuracy"] >= 0.8
    assert "face_emotion_confusion.png" in report["plots"] and (out / "face_emotion_confusion.png").is_file()
    assert "ground truth" in capsys.readouterr().out
    # A wrong folder fails at once, before the model runs, with a one-line message.
    assert main(argv[:-2] + ["--out", str(tmp_path / "r2"), "--face-classifier", str(checkpoint)]) == 2
    assert "is a VoiceEmo model checkpoint, not a face-emotion classifier" in capsys.readouterr().err
