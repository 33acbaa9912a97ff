"""The emotion a face shows, as an evaluation metric (`voiceemo eval --face-classifier`).

A face-emotion classifier trained on ground-truth animations (configs/face_emotion.py)
reads each evaluated clip twice: the generated animation (does the face show the emotion
the voice carries?) and the ground truth (the ceiling: what the classifier can read from
real faces). Both accuracies, their confusion matrices, the level accuracy (classifiers
with a level head) and how often the two readings agree go into the report's
"face_emotion" section. Dataset emotions are matched to the classifier's labels by name
(after aliasing); clips whose emotion the classifier lacks are counted, not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from voiceemo_jax.evaluation import metrics


class FaceEmotionMetric:
    """Reads every evaluated clip's generated and ground-truth animation, a batch at a time.

    `add(clip, entry)` takes an `evaluation.model_outputs.ClipOutput` and its per-clip report entry (which
    gains "face_emotion_generated" / "face_emotion_ground_truth"); `report()` is the
    "face_emotion" section of the evaluation report.
    """

    def __init__(self, reader, dataset_emotions: Sequence[str], dataset_levels: Sequence[str], batch_size: int):
        from voiceemo_jax.face_emotion.loading import face_label_map

        self.reader, self.batch_size = reader, batch_size
        self.labels, self.level_labels = reader.emotion_labels, reader.level_labels
        self.emotion_map = face_label_map(dataset_emotions, self.labels, reader.path)
        # Levels matched by name: a classifier trained on this dataset has exactly its levels.
        levels = self.level_labels
        self.level_map = np.array([levels.index(n) if n in levels else -1 for n in dataset_levels], np.int64)
        self.pending: list[tuple[Any, dict[str, Any]]] = []
        self.true: dict[str, list[int]] = {"emotion": [], "level": []}
        self.read: dict[str, dict[str, list[int]]] = {
            source: {"emotion": [], "level": []} for source in ("generated", "ground_truth")
        }
        self.agree = 0
        self.unmapped = 0

    def add(self, clip, entry: dict[str, Any]) -> None:
        self.pending.append((clip, entry))
        if len(self.pending) >= self.batch_size:
            self.flush()

    @staticmethod
    def _mapped(mapping: np.ndarray, value: int) -> int:
        return int(mapping[value]) if 0 <= value < len(mapping) else -1

    def flush(self) -> None:
        if not self.pending:
            return
        clips, entries = zip(*self.pending)
        self.pending = []
        names = [c.clip_id for c in clips]
        readings = {
            "generated": self.reader.logits([c.outputs for c in clips], names=names),
            "ground_truth": self.reader.logits([c.targets for c in clips], names=[f"{n} (targets)" for n in names]),
        }
        for i, (clip, entry) in enumerate(zip(clips, entries)):
            emotion = {source: int(np.argmax(logits[0][i])) for source, logits in readings.items()}
            entry["face_emotion_generated"] = self.labels[emotion["generated"]]
            entry["face_emotion_ground_truth"] = self.labels[emotion["ground_truth"]]
            true = self._mapped(self.emotion_map, clip.emotion)
            if true < 0:
                self.unmapped += 1
                continue
            self.true["emotion"].append(true)
            self.agree += emotion["generated"] == emotion["ground_truth"]
            for source, (_, level_logits) in readings.items():
                self.read[source]["emotion"].append(emotion[source])
                if level_logits is not None:
                    self.read[source]["level"].append(int(np.argmax(level_logits[i])))
            if self.level_labels:
                self.true["level"].append(self._mapped(self.level_map, clip.level))

    def report(self) -> dict[str, Any]:
        self.flush()
        evaluated = len(self.true["emotion"])
        out: dict[str, Any] = {
            "classifier": self.reader.path,
            "emotion_labels": list(self.labels),
            "evaluated_clips": evaluated,
            "clips_without_classifier_label": self.unmapped,
            "generated_agrees_with_ground_truth": self.agree / evaluated if evaluated else None,
        }
        levels = np.array(self.true["level"])
        for source, read in self.read.items():
            matrix = metrics.confusion_matrix(self.true["emotion"], read["emotion"], len(self.labels))
            section: dict[str, Any] = {
                "accuracy": metrics.accuracy_from_confusion(matrix) if evaluated else None,
                "confusion_matrix": matrix.tolist(),
            }
            if self.level_labels:
                known = levels >= 0
                hits = np.array(read["level"])[known] == levels[known] if known.any() else np.zeros(0)
                section["level_accuracy"] = float(hits.mean()) if hits.size else None
            out[source] = section  # "ground_truth" is the ceiling "generated" is measured against
        return out
