"""The emotion-head refit stage (`voiceemo_jax.training.emotion_head`): only the classifier
head changes, validation accuracy never gets worse, and the new folder is a normal model."""

from __future__ import annotations

import numpy as np

from voiceemo_jax import checkpoint_io
from voiceemo_jax.testing.random_models import random_model
from voiceemo_jax.training import emotion_head


def test_refit_changes_only_the_head_and_never_loses_validation_accuracy(fixture_build, param_leaves, tmp_path, capsys):
    model = random_model("tiny", seed=5)  # its labels are the release's; the fixture's are matched by name
    before = checkpoint_io.save_model(model, tmp_path / "before")
    out = tmp_path / "after"
    assert emotion_head.main(["--checkpoint", str(before), "--data", str(fixture_build), "--out", str(out),
                              "--steps", "200"]) == 0  # fmt: skip
    line = capsys.readouterr().out
    assert "emotion accuracy" in line and str(out) in line
    old, new = param_leaves(checkpoint_io.load_model(before)[0]), param_leaves(checkpoint_io.load_model(out)[0])
    changed = {k for k in old if not np.array_equal(old[k], new[k])}
    assert changed and all("classifier" in k for k in changed), changed
    report = emotion_head.refit(before, fixture_build, tmp_path / "again", steps=100)
    assert report["after"]["validation"] >= report["before"]["validation"]
    assert emotion_head.main(["--checkpoint", str(before), "--data", str(fixture_build), "--out", str(out)]) == 2
