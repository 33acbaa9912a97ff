"""`init_from` compares the source's label vocabulary with the dataset's: the same emotions in
another order are refused (the classifier would load with its classes shuffled), other
emotions or another person count leave that layer fresh."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from voiceemo_jax.errors import UserError

CLASSIFIER = "emotion_encoder.classifier.out_proj.kernel"
PERSONS = "morph_synthesizer.obj_vector_person.kernel"


def test_init_from_refuses_reordered_emotions_and_keeps_other_vocabularies_fresh(release):
    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.training.initialization import load_init_from

    if release.variant != "layer":
        pytest.skip("one variant is enough")
    source, _ = checkpoint_io.load_model(release.checkpoint)
    params = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(source, nnx.Param)))  # same shapes as the source
    labels = tuple(source.config.emotion_labels)
    persons = source.config.synthesizer.num_persons
    assert len(labels) > 2

    with pytest.raises(UserError, match="orders the labels .* differently from the dataset"):
        load_init_from(params, release.checkpoint, emotions=labels[::-1], num_persons=persons)

    _, loaded, fresh = load_init_from(params, release.checkpoint, emotions=labels, num_persons=persons)
    assert CLASSIFIER in loaded and PERSONS in loaded and not fresh

    other = (*labels[:-1], "bored")  # another vocabulary of the same size: the shapes fit, the meaning does not
    _, loaded, fresh = load_init_from(params, release.checkpoint, emotions=other, num_persons=persons + 1)
    assert CLASSIFIER in fresh and PERSONS in fresh
    assert "emotion_encoder.classifier.dense.kernel" in loaded
