"""The emotion-consistency loss: a frozen face classifier on the synthesizer's outputs.

Gradients reach the synthesizer and never the classifier; the train step leaves the
classifier bit-identical; a wrong classifier folder, width or label set is a clear error.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from voiceemo_jax.errors import UserError
from voiceemo_jax.face_emotion import loading as face_loading
from voiceemo_jax.face_emotion.model import FaceEmotionClassifier, FaceEmotionConfig
from voiceemo_jax.models import presets
from voiceemo_jax.models.voiceemo import VoiceEmo
from voiceemo_jax.testing.batches import synthetic_triplet_batch
from voiceemo_jax.training import objective

DATASET_EMOTIONS = presets.RELEASE_EMOTIONS  # the synthetic batch's emotion ids 0..6 index these
# Two dataset emotions the classifier does not know: their clips must get no consistency loss.
CLASSIFIER_LABELS = DATASET_EMOTIONS[:5]
WEIGHTS = {"cross": 1.0, "self": 1.0, "velocity": 0.5, "emotion": 0.1, "face_emotion": 1.0}


def _frozen(seed=1, labels=CLASSIFIER_LABELS) -> face_loading.FrozenFaceEmotion:
    classifier = FaceEmotionClassifier(FaceEmotionConfig(emotion_labels=labels, hidden_dim=16), rngs=nnx.Rngs(seed))
    graphdef, state = nnx.split(classifier)
    label_map = face_loading.face_label_map(DATASET_EMOTIONS, labels, "test classifier")
    return face_loading.FrozenFaceEmotion(graphdef, state, label_map)


def _model_config():
    """The tiny preset with one transformer layer per encoder: quicker to compile, same paths."""
    config = presets.model_config("tiny")
    one_layer = {"num_hidden_layers": 1}
    return dataclasses.replace(
        config, content=dataclasses.replace(config.content, **one_layer),
        emotion=dataclasses.replace(config.emotion, **one_layer),
    )  # fmt: skip


@pytest.fixture(scope="module")
def model_parts():
    """(graphdef, params) of a tiny model, initialised under jit (eager init is slow)."""

    def init():
        model = VoiceEmo(_model_config(), rngs=nnx.Rngs(0))
        # The release zero-initialises the output head, which would stop every gradient below it.
        head = model.morph_synthesizer.bs_map_r
        head.kernel[...] = 0.05 * jax.random.normal(jax.random.key(2), head.kernel[...].shape)
        return nnx.to_pure_dict(nnx.state(model, nnx.Param))

    graphdef, _ = nnx.split(nnx.eval_shape(lambda: VoiceEmo(_model_config(), rngs=nnx.Rngs(0))), nnx.Param)
    return graphdef, jax.jit(init)()


def _flat(tree) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def test_gradients_reach_the_synthesizer_and_leave_the_frozen_classifier_untouched(model_parts):
    graphdef, params = model_parts
    frozen = _frozen()
    batch = jax.tree.map(jnp.asarray, synthetic_triplet_batch(4, samples=4000))

    # Differentiating the synthesizer and the classifier only keeps the backward pass (and its
    # compile time) small: the encoders' gradients are not what this test is about.
    def loss(synthesizer_params, classifier_state, weight):
        term = dataclasses.replace(frozen, state=classifier_state)
        merged = nnx.merge(graphdef, nnx.State({**params, "morph_synthesizer": synthesizer_params}))
        total, metrics = objective.triplet_objective(
            merged, batch, dict(WEIGHTS, face_emotion=weight), deterministic=True, face_emotion=term
        )
        return total, metrics

    grad = jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))
    synthesizer_params = params["morph_synthesizer"]
    (with_term, classifier_grads), metrics = grad(synthesizer_params, frozen.state, 1.0)
    (without_term, _), _ = grad(synthesizer_params, frozen.state, 0.0)
    assert np.isfinite(float(metrics["loss/face_emotion"])) and float(metrics["loss/face_emotion"]) > 0
    # Only labelled clips count: relabelling an unknown-emotion clip changes nothing.
    emotions = np.asarray(batch["x11"]["emotion"])
    assert set(emotions.tolist()) & {5, 6}, "the batch should hold clips the classifier has no label for"

    with_term, without_term = _flat(with_term), _flat(without_term)
    changed = [k for k in with_term if np.abs(with_term[k] - without_term[k]).max() > 1e-7]
    # The term reaches the head and, through it, the decoder and the fusion layers.
    assert any("bs_map_r" in k for k in changed) and any("transformer_decoder" in k for k in changed)
    assert any("audio_feature_map_emo" in k for k in changed)
    assert all(np.abs(g).max() == 0 for g in _flat(classifier_grads).values())


def test_single_clip_objective_gets_the_term_and_ignores_clips_without_a_label(model_parts):
    graphdef, params = model_parts
    frozen = _frozen()
    clip = jax.tree.map(jnp.asarray, synthetic_triplet_batch(2, samples=4000)["x11"])

    @jax.jit
    def run(emotions):
        model = nnx.merge(graphdef, nnx.State(params))
        x = {"x": dict(clip, emotion=emotions)}
        with_term = objective.single_objective(model, x, WEIGHTS, deterministic=True, face_emotion=frozen)
        return with_term, objective.single_objective(model, x, WEIGHTS, deterministic=True)

    (_, unknown), _ = run(jnp.array([5, 6], jnp.int32))  # no classifier label for either clip
    assert float(unknown["loss/face_emotion"]) == 0.0
    (total, metrics), (_, plain) = run(jnp.array([0, 3], jnp.int32))
    assert float(metrics["loss/face_emotion"]) > 0 and "loss/face_emotion" not in plain
    expected = float(plain["loss/total"]) + WEIGHTS["face_emotion"] * float(metrics["loss/face_emotion"])
    assert float(total) == pytest.approx(expected, rel=1e-5)


def test_the_trainer_steps_carry_the_term_and_the_train_state_holds_no_classifier():
    from configs.tiny import get_config
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    config.loss.face_emotion = 0.5
    mesh = sharding.make_mesh(1, 1, devices=jax.devices()[:1])
    frozen = _frozen()
    # Shapes only (jax.eval_shape traces, compiles nothing): the wiring, not the numbers.
    fns = trainer.build_train_functions(
        config, _model_config(), mesh, triplets=True, has_emotions=True, face_emotion=frozen
    )
    batch = synthetic_triplet_batch(8, samples=4000)
    state, metrics = jax.eval_shape(fns.train_step, fns.abstract_state, batch, jax.random.key(0))
    assert {"loss/face_emotion", "face_emotion_accuracy"} <= set(metrics)
    assert not any("input_mean" in k or "emotion_head" in k for k in _flat(state["params"]))  # frozen: not trained
    clip = dict(batch["x11"], valid=np.ones(8, bool))
    sums = jax.eval_shape(fns.eval_step, fns.abstract_state["params"], clip)
    assert {"sum/face_emotion_correct", "count/face_emotion_clips"} <= set(sums)


def test_the_term_is_off_by_default_and_checks_its_classifier(tmp_path, trained_classifier):
    from configs.tiny import get_config
    from voiceemo_jax.training.trainer import face_emotion_term

    config = get_config()
    metadata = SimpleNamespace(emotions=("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"))
    mesh = None
    assert config.loss.face_emotion == 0.0 and face_emotion_term(config, metadata, 52, mesh) is None
    config.loss.face_emotion = 0.1
    with pytest.raises(UserError, match="needs a trained face classifier"):
        face_emotion_term(config, metadata, 52, mesh)
    config.face_classifier = str(tmp_path)
    with pytest.raises(UserError, match="is not a face-emotion classifier"):
        face_emotion_term(config, metadata, 52, mesh)
    path = trained_classifier["classifier"]
    with pytest.raises(UserError, match="reads 52 values per frame but the model/dataset has 15"):
        face_loading.frozen_face_emotion(path, metadata.emotions, 15)
    with pytest.raises(UserError, match="share no emotion"):
        face_loading.frozen_face_emotion(path, ("bored", "excited"), 52)
    frozen = face_loading.frozen_face_emotion(path, ("surprised", "bored", "neutral"), 52)
    assert frozen.label_map.tolist() == [7, -1, 0]  # mapped by name; unknown emotions get -1
