"""The face-emotion classifier's checkpoint folder, and reading emotions from coefficients.

Layout (what `voiceemo train --config configs/face_emotion.py` writes as WORKDIR/face_classifier):

    FACE_CKPT/
      face_emotion.json   {"format": "voiceemo-jax-face-emotion", "version": 1, "classifier": {...}, "source": {...}}
      params/             Orbax StandardCheckpointer tree: parameters + input statistics

Uses:

    reader = load_face_classifier(FACE_CKPT)
    read_face_emotion(reader, coefficients)      # [T, D] float32 -> dict for the predict JSON
    reader.logits([seq_a, seq_b, ...])           # batched, padded to length buckets

    term = frozen_face_emotion(FACE_CKPT, dataset_emotions, output_dim)   # the consistency loss

As with model checkpoints, the folder is written under a temporary name and renamed when
complete, so a crash never leaves something `load_face_classifier` would accept.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from voiceemo_jax import checkpoint_io
from voiceemo_jax.errors import UserError
from voiceemo_jax.face_emotion.model import FaceEmotionClassifier, FaceEmotionConfig

FORMAT = "voiceemo-jax-face-emotion"
VERSION = 1
CONFIG_FILE = "face_emotion.json"
PARAMS_DIR = checkpoint_io.PARAMS_DIR
MODEL_CONFIG_FILE = "voiceemo_model.json"  # checkpoint_io's: named in the wrong-folder message
DEFAULT_BUCKET_FRAMES = 32
_TRAIN_HINT = "train one with `voiceemo train --config configs/face_emotion.py --workdir DIR` (DIR/face_classifier)"


# ----------------------------------------------------------------------------- the folder


def save_face_classifier(
    state,
    config: FaceEmotionConfig,
    out_dir: str | os.PathLike,
    *,
    source: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Writes a classifier's state (pure dict of `nnx.state(classifier)`) and config atomically.

    Every process must call this (Orbax saves collectively); process 0 writes the JSON and
    renames the finished folder into place.
    """
    meta = {"format": FORMAT, "version": VERSION, "classifier": config.to_dict(), "source": source or {}}
    return checkpoint_io.save_tree_folder(
        state, meta, out_dir, config_file=CONFIG_FILE, overwrite=overwrite, name="face_classifier"
    )


def read_face_classifier_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Reads and validates `face_emotion.json`; UserError naming what the folder is instead."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"face classifier {path} is not a folder; {_TRAIN_HINT}")
    config_path = path / CONFIG_FILE
    if not config_path.is_file() or not (path / PARAMS_DIR).is_dir():
        if (path / MODEL_CONFIG_FILE).is_file():
            raise UserError(
                f"{path} is a VoiceEmo model checkpoint, not a face-emotion classifier "
                f"(no {CONFIG_FILE}); {_TRAIN_HINT}"
            )
        if (path / "face_classifier" / CONFIG_FILE).is_file():
            raise UserError(f"{path} is a training workdir; the classifier is {path / 'face_classifier'}")
        raise UserError(f"{path} is not a face-emotion classifier (no {CONFIG_FILE} and {PARAMS_DIR}/); {_TRAIN_HINT}")
    return checkpoint_io.read_meta_json(config_path, FORMAT, VERSION, "a face-emotion classifier")


def restore_classifier(path: str | os.PathLike) -> tuple[FaceEmotionClassifier, dict[str, Any]]:
    """-> (classifier with restored parameters and input statistics, meta)."""
    path = Path(path).absolute()
    meta = read_face_classifier_meta(path)
    try:
        config = FaceEmotionConfig.from_dict(meta["classifier"])
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{path / CONFIG_FILE} has an invalid classifier config: {error}") from None
    abstract = nnx.eval_shape(lambda: FaceEmotionClassifier(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    try:
        restored = checkpoint_io._checkpointer().restore(path / PARAMS_DIR, nnx.to_pure_dict(abstract_state))
    except Exception as error:  # Orbax raises many types for a damaged or mismatched tree
        first_line = str(error).splitlines()[0]
        raise UserError(f"cannot restore the classifier from {path / PARAMS_DIR}: {first_line}") from None
    nnx.replace_by_pure_dict(abstract_state, restored)
    return nnx.merge(graphdef, abstract_state), meta


# ----------------------------------------------------------------------------- reading on the host


@functools.partial(jax.jit, static_argnums=(0,))
def _forward(graphdef, state, coefficients, num_frames):
    return nnx.merge(graphdef, state)(coefficients, num_frames)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class FaceEmotionReader:
    """Runs a classifier on host numpy sequences [T, D], padded to multiples of `bucket_frames`
    (a stream of lengths compiles a handful of programs; masking makes padding invisible)."""

    def __init__(self, classifier: FaceEmotionClassifier, *, path=None, bucket_frames: int = DEFAULT_BUCKET_FRAMES):
        self.config = classifier.config
        self.graphdef, self.state = nnx.split(classifier)
        self.path = None if path is None else str(path)
        self.bucket_frames = max(1, int(bucket_frames))

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        return self.config.emotion_labels

    @property
    def level_labels(self) -> tuple[str, ...]:
        return self.config.level_labels

    def check(self, coefficients: np.ndarray, name: str = "coefficients") -> np.ndarray:
        array = np.asarray(coefficients)
        if array.ndim != 2 or array.shape[1] != self.config.input_dim:
            raise UserError(
                f"{name}: expected [frames, {self.config.input_dim}] (the classifier's input width), "
                f"got shape {list(array.shape)}"
            )
        if not len(array):
            raise UserError(f"{name}: no frames to read an emotion from")
        if not np.all(np.isfinite(array)):
            raise UserError(f"{name}: contains NaN or inf")
        return array.astype(np.float32)

    def logits(
        self, sequences: Sequence[np.ndarray], names: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Sequences [T_i, D] -> (emotion logits [N, emotions], level logits [N, levels] or None)."""
        names = names or [f"sequence {i}" for i in range(len(sequences))]
        arrays = [self.check(s, n) for s, n in zip(sequences, names)]
        lengths = np.array([len(a) for a in arrays], np.int32)
        padded = int(-(-lengths.max() // self.bucket_frames) * self.bucket_frames)
        batch = np.zeros((len(arrays), padded, self.config.input_dim), np.float32)
        for row, array in zip(batch, arrays):
            row[: len(array)] = array
        out = jax.device_get(_forward(self.graphdef, self.state, jnp.asarray(batch), jnp.asarray(lengths)))
        level = out.get("level_logits")
        return np.asarray(out["emotion_logits"]), None if level is None else np.asarray(level)

    def describe(self, coefficients: np.ndarray) -> dict[str, Any]:
        """One sequence [T, D] -> the JSON-ready emotion (and level) read from it."""
        emotion_logits, level_logits = self.logits([coefficients], names=["face coefficients"])
        probabilities = _softmax(emotion_logits[0])
        labels = self.emotion_labels
        out: dict[str, Any] = {
            "emotion": labels[int(np.argmax(probabilities))],
            "emotion_labels": list(labels),
            "emotion_probabilities": {k: float(p) for k, p in zip(labels, probabilities)},
            "emotion_logits": {k: float(x) for k, x in zip(labels, emotion_logits[0])},
            "level": None,
            "level_label": None,
            "level_probabilities": None,
            "classifier": self.path,
        }
        if level_logits is not None:
            level_probabilities = _softmax(level_logits[0])
            level = int(np.argmax(level_probabilities))
            out["level"], out["level_label"] = level, self.level_labels[level]
            out["level_probabilities"] = {k: float(p) for k, p in zip(self.level_labels, level_probabilities)}
        return out


def load_face_classifier(path: str | os.PathLike) -> FaceEmotionReader:
    """A face-emotion classifier folder -> a reader. Raises UserError for a wrong folder."""
    classifier, _ = restore_classifier(path)
    return FaceEmotionReader(classifier, path=path)


def read_face_emotion(reader: FaceEmotionReader, coefficients: np.ndarray) -> dict[str, Any]:
    """[T, D] float32 coefficients (raw model outputs) -> the emotion read from the face:

    {"emotion": label, "emotion_labels": [...], "emotion_probabilities": {label: p},
     "emotion_logits": {label: x}, "level": int or None, "level_label": str or None,
     "level_probabilities": {label: p} or None, "classifier": path}
    """
    return reader.describe(coefficients)


# ----------------------------------------------------------------------------- dataset labels


def face_label_map(dataset_emotions: Sequence[str], classifier_labels: Sequence[str], path) -> np.ndarray:
    """[E] classifier label id for each dataset emotion (-1: none), names matched after aliasing.

    Raises UserError when no dataset emotion is one of the classifier's labels.
    """
    from voiceemo_jax.evaluation.labels import emotion_label_map

    label_map = emotion_label_map(dataset_emotions, classifier_labels)
    if not np.any(label_map >= 0):
        raise UserError(
            f"face classifier {path} labels {list(classifier_labels)} share no emotion with this dataset's "
            f"{list(dataset_emotions)}; train the classifier on this dataset"
        )
    return label_map


def check_input_dim(config: FaceEmotionConfig, output_dim: int, path) -> None:
    if config.input_dim != output_dim:
        raise UserError(
            f"face classifier {path} reads {config.input_dim} values per frame but the model/dataset has "
            f"{output_dim}; train the classifier on targets of the same kind"
        )


@dataclasses.dataclass(frozen=True)
class FrozenFaceEmotion:
    """The frozen classifier of the emotion-consistency loss, closed over by the train step.

    label_map: [dataset emotions] int, the classifier's label for each dataset emotion id or -1
    (such clips get no consistency loss).
    """

    graphdef: Any
    state: Any
    label_map: np.ndarray
    path: str = ""

    def emotion_logits(self, outputs: jax.Array, num_frames: jax.Array) -> jax.Array:
        """outputs: [B, T, D] predicted coefficients -> [B, classifier labels].

        stop_gradient on the classifier's state: gradients reach `outputs` (the synthesizer)
        and never the classifier, whatever the caller differentiates.
        """
        classifier = nnx.merge(self.graphdef, jax.tree.map(jax.lax.stop_gradient, self.state))
        return classifier(outputs, num_frames, deterministic=True)["emotion_logits"]

    def classifier_labels(self, dataset_emotions: jax.Array) -> jax.Array:
        """[B] dataset emotion ids -> [B] classifier label ids (-1: no such label)."""
        label_map = jnp.asarray(self.label_map, jnp.int32)
        inside = (dataset_emotions >= 0) & (dataset_emotions < label_map.shape[0])
        return jnp.where(inside, label_map[jnp.clip(dataset_emotions, 0, label_map.shape[0] - 1)], -1)


def frozen_face_emotion(path: str | os.PathLike, dataset_emotions: Sequence[str], output_dim: int) -> FrozenFaceEmotion:
    """Loads the classifier for the consistency loss, checked against the dataset and model."""
    classifier, _ = restore_classifier(path)
    check_input_dim(classifier.config, output_dim, path)
    label_map = face_label_map(dataset_emotions, classifier.config.emotion_labels, path)
    graphdef, state = nnx.split(classifier)
    return FrozenFaceEmotion(graphdef, state, label_map, str(path))
