"""benchmarks/demo_quality.py's mouth-error intervals: the pooled MAE of clip draws, a comparison
of two models on the same draws, and the table that reports them."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import demo_quality
from voiceemo_jax.arkit import NUM_BLENDSHAPES


def _clips(rng, lengths, scale):
    targets = [rng.uniform(0, 1, (n, NUM_BLENDSHAPES)) for n in lengths]
    outputs = [t + rng.normal(0, scale, t.shape) for t in targets]
    return outputs, targets


def test_mouth_errors_pool_to_the_mae_over_every_mouth_value():
    rng = np.random.default_rng(0)
    outputs, targets = _clips(rng, (5, 40, 9), 0.1)
    sums, counts = demo_quality.mouth_errors(outputs, targets)
    every = np.concatenate([np.abs(o - t)[:, demo_quality.MOUTH].ravel() for o, t in zip(outputs, targets)])
    assert sums.sum() / counts.sum() == pytest.approx(every.mean())
    assert counts.tolist() == [n * len(demo_quality.MOUTH) for n in (5, 40, 9)]


def test_two_models_compare_on_the_same_draws():
    rng = np.random.default_rng(1)
    lengths = rng.integers(20, 90, 35)
    outputs, targets = _clips(rng, lengths, 0.05)
    better = [t + 0.5 * (o - t) for o, t in zip(outputs, targets)]  # every error halved
    model, other = demo_quality.mouth_errors(better, targets), demo_quality.mouth_errors(outputs, targets)
    draws = demo_quality.mae_draws(*model)
    assert np.array_equal(draws, demo_quality.mae_draws(*model))  # seeded
    low, high = demo_quality.interval95(draws)
    assert low < model[0].sum() / model[1].sum() < high
    # The same draws of the clips for both: the difference is exactly half the other's MAE.
    difference = draws - demo_quality.mae_draws(*other)
    np.testing.assert_allclose(difference, -0.5 * demo_quality.mae_draws(*other), rtol=1e-9)
    assert demo_quality.interval95(difference)[1] < 0
    assert demo_quality.interval95(draws - draws) == [0.0, 0.0]


def test_the_table_gives_the_intervals_and_the_comparison():
    swap = {"mouth_correlation_with_content_targets": {"swapped": 0.5, "unswapped": 0.6},
            "upper_face_nearest_is_emotion_clip": 0.8, "upper_face_nearest_is_content_clip": 0.1}  # fmt: skip
    row = {"clips": 35, "mouth_mae": {"model": 0.0237, "mean_pose": 0.06, "loudness_jaw": 0.06},
           "jaw_open_correlation": 0.9, "emotion_accuracy": 0.97, "swap": swap,
           "mouth_mae_interval95": [0.0221, 0.0254]}  # fmt: skip
    alone = demo_quality.table({"sets": {"held-out voice": row}}).splitlines()
    assert alone[-1] == "| held-out voice | 0.0237 (0.0221-0.0254) |"
    row["compare"] = {"mouth_mae": 0.0234, "mouth_mae_interval95": [0.0219, 0.0250],
                      "model_minus_compare_interval95": [-0.0004, 0.0011]}  # fmt: skip
    both = demo_quality.table({"sets": {"held-out voice": row}, "compare_checkpoint": "old"}).splitlines()
    assert both[-1] == "| held-out voice | 0.0237 (0.0221-0.0254) | 0.0234 (0.0219-0.0250) | -0.0004 to +0.0011 |"


def test_a_vertex_model_is_refused_in_one_line_before_any_clip_is_read(tmp_path, capsys):
    from flax import nnx

    from benchmarks import demo_quality, real_speech
    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.models import presets
    from voiceemo_jax.models.voiceemo import VoiceEmo

    vertices = checkpoint_io.save_model(
        VoiceEmo(presets.model_config("tiny", output_dim=15), rngs=nnx.Rngs(0)), tmp_path / "vertex"
    )
    missing_corpus = tmp_path / "no_corpus"  # never read: the models are checked first
    for argv in (["--corpus", str(missing_corpus), "--compare", str(vertices)],
                 ["--corpus", str(missing_corpus), "--checkpoint", str(vertices)]):  # fmt: skip
        assert demo_quality.main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("demo_quality: error: --") and "15 values per frame" in error
        assert "\n" not in error
    data = tmp_path / "real_speech"  # index files only: the model is refused before any audio is read
    for corpus, rows in (("ljspeech", ""), ("tess", ""), ("ravdess", "b/19-neutral.wav\t19\tKids\tneutral\n")):
        (data / corpus).mkdir(parents=True)
        (data / corpus / "index.tsv").write_text("file\tspeaker\ttext\temotion\n" + rows)
    assert real_speech.main(["--checkpoint", str(vertices), "--data", str(data), "--arctic-speakers"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("real_speech: error: --checkpoint") and "15 values per frame" in error
