"""Dataset emotion names -> a model's (or a classifier's) label ids, matched after aliasing.

    emotion_label_map(("fearful", "calm"), ("angry", "fear", ...)) -> [1, -1]

Datasets spell emotions their own way (RAVDESS "fearful", MEAD "surprised"); the release's
labels are "fear", "surprise", ... Used by the evaluation (emotion accuracy), the face
classifier (voiceemo_jax.face_emotion) and the emotion-encoder pre-training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Dataset spellings -> the model's (the release's) label names.
EMOTION_ALIASES = {
    "fearful": "fear",
    "disgusted": "disgust",
    "surprised": "surprise",
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
}


def canonical_emotion(name: str) -> str:
    name = name.strip().lower()
    return EMOTION_ALIASES.get(name, name)


def emotion_label_map(dataset_emotions: Sequence[str], model_labels: Sequence[str]) -> np.ndarray:
    """[E] model label index for each dataset emotion, -1 where the model has no such label."""
    model_index = {canonical_emotion(label): i for i, label in enumerate(model_labels)}
    return np.array([model_index.get(canonical_emotion(name), -1) for name in dataset_emotions], np.int64)
