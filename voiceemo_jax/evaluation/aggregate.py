"""Aggregating metrics: per-clip numbers as clips arrive, the report's pooled sections at the end.

    accumulator = Accumulator("arkit", space, dataset_emotions, model_labels)
    for clip in clips: accumulator.add(clip)        # a `model_outputs.ClipOutput`
    accumulator.report()  # {"num_clips", "num_frames", "outputs", "coefficients", "vertex_metrics",
                          #  "emotion", "per_clip"}

Blendshape coefficients are kept (small) and pooled at the end; vertex-offset errors are
summed as they arrive (too wide to keep), and LVE / EVE keep one maximum per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES, GROUPS
from voiceemo_jax.evaluation import metrics
from voiceemo_jax.evaluation.labels import emotion_label_map
from voiceemo_jax.evaluation.model_outputs import ClipOutput
from voiceemo_jax.evaluation.vertex_spaces import VertexSpace


class Accumulator:
    """Per-clip metrics as clips arrive; pooled coefficient metrics at the end.

    target_kind: "arkit" or "vertex_offsets"; space: where the vertex metrics are measured;
    dataset_emotions / labels: the dataset's emotion names and the model's labels.
    """

    def __init__(self, target_kind: str, space: VertexSpace, dataset_emotions: Sequence[str], labels: Sequence[str]):
        self.target_kind, self.space = target_kind, space
        self.dataset_emotions, self.labels = tuple(dataset_emotions), tuple(labels)
        self.emotion_map = emotion_label_map(dataset_emotions, labels)
        self.per_clip: list[dict[str, Any]] = []
        self.frame_maxima: dict[str, list[np.ndarray]] = {"lip": [], "eye": []}
        self.fdd: list[float] = []
        self.fdd_published: list[float] = []
        self.coefficients: list[tuple[np.ndarray, np.ndarray]] = []  # arkit only: small
        self.error_sums = np.zeros(2)  # sum |e|, sum e^2 (vertex offsets: too wide to keep)
        self.values = 0
        self.true_emotions: list[int] = []
        self.predicted_emotions: list[int] = []
        self.unmapped = 0
        # For the plots: every clip's jawOpen (first four, blendshape outputs) and the first
        # clip's region displacement norms.
        self.jaw_tracks: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.region_tracks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.example: ClipOutput | None = None

    def add(self, clip: ClipOutput) -> None:
        pred, target = clip.outputs.astype(np.float64), clip.targets.astype(np.float64)
        errors = metrics.mean_errors(pred, target)
        self.error_sums += [errors["mae"] * pred.size, errors["mse"] * pred.size]
        self.values += pred.size
        entry: dict[str, Any] = {"clip_id": clip.clip_id, "frames": len(pred), **errors}
        if self.target_kind == "arkit":
            self.coefficients.append((pred, target))
            if len(self.jaw_tracks) < 4:
                jaw = ARKIT_NAMES.index("jawOpen")
                self.jaw_tracks.append((clip.clip_id, pred[:, jaw], target[:, jaw]))
        if self.example is None:
            self.example = clip
        self._vertex_metrics(pred, target, entry, track=len(self.per_clip) == 0)
        predicted = int(np.argmax(clip.logits))
        known = 0 <= clip.emotion < len(self.emotion_map)
        true = int(self.emotion_map[clip.emotion]) if known else -1
        entry["emotion"] = self.dataset_emotions[clip.emotion] if known else None
        entry["emotion_predicted"] = self.labels[predicted]
        if true >= 0:
            self.true_emotions.append(true)
            self.predicted_emotions.append(predicted)
        else:
            self.unmapped += 1
        self.per_clip.append(entry)

    def _vertex_metrics(self, pred, target, entry, track: bool) -> None:
        space = self.space
        displaced = {
            region: (space.displacement(pred, region), space.displacement(target, region)) for region in space.regions
        }
        for region, key in (("lip", "lve"), ("eye", "eve")):
            if region in displaced:
                maxima = metrics.region_max_squared_error(*displaced[region], np.arange(len(space.regions[region])))
                self.frame_maxima[region].append(maxima)
                entry[key] = float(np.mean(maxima))
        if "upper_face" in displaced:
            pred_motion, target_motion = displaced["upper_face"]
            everything = np.arange(pred_motion.shape[1])
            entry["fdd"] = metrics.upper_face_dynamics_deviation(pred_motion, target_motion, everything)
            entry["fdd_published_convention"] = metrics.fdd_published_convention(pred_motion, target_motion, everything)
            self.fdd.append(entry["fdd"])
            self.fdd_published.append(entry["fdd_published_convention"])
        if track:  # mean displacement norm per frame, for the first clip's region plot
            self.region_tracks = {
                region: (np.linalg.norm(p, axis=-1).mean(axis=1), np.linalg.norm(t, axis=-1).mean(axis=1))
                for region, (p, t) in displaced.items()
            }

    def report(self) -> dict[str, Any]:
        space = self.space
        out: dict[str, Any] = {
            "num_clips": len(self.per_clip),
            "num_frames": int(sum(entry["frames"] for entry in self.per_clip)),
            "outputs": {"mae": self.error_sums[0] / self.values, "mse": self.error_sums[1] / self.values},
        }
        if self.target_kind == "arkit":
            pred = np.concatenate([p for p, _ in self.coefficients])
            target = np.concatenate([t for _, t in self.coefficients])
            pearson = metrics.pearson_per_channel(pred, target)
            per_channel = metrics.channel_errors(pred, target)
            out["coefficients"] = {
                **metrics.mean_errors(pred, target),
                "per_group": metrics.group_errors(pred, target, GROUPS),
                "mean_pearson": float(np.nanmean(pearson)) if np.isfinite(pearson).any() else None,
                "channels_with_undefined_pearson": [ARKIT_NAMES[i] for i in np.flatnonzero(~np.isfinite(pearson))],
                "per_channel": {
                    name: {
                        "mae": float(per_channel["mae"][i]),
                        "mse": float(per_channel["mse"][i]),
                        "pearson": float(pearson[i]) if np.isfinite(pearson[i]) else None,
                    }
                    for i, name in enumerate(ARKIT_NAMES)
                },  # fmt: skip
            }
        vertex: dict[str, Any] = {
            "space": space.description,
            "regions": {
                name: {"vertices": int(len(indices)), "source": space.region_sources[name]}
                for name, indices in space.regions.items()
            },
            "units": "LVE/EVE: squared mesh units (VOCASET and the bundled head: m^2); FDD: mesh units",
        }
        if space.missing_shapes:
            vertex["rig_missing_shapes"] = list(space.missing_shapes)
        for region, key, flag in (("lip", "lve", "--lip-mask"), ("eye", "eve", "--eye-mask")):
            if self.frame_maxima[region]:
                vertex[key] = metrics.pooled_frame_mean(self.frame_maxima[region])
            else:
                vertex[key] = None
                vertex[f"{key}_skipped"] = f"no {region} region: pass {flag}"
        if self.fdd:
            vertex["fdd"] = float(np.mean(self.fdd))
            vertex["fdd_published_convention"] = float(np.mean(self.fdd_published))
        else:
            vertex["fdd"] = None
            vertex["fdd_skipped"] = "no upper-face region: pass --upper-face-mask"
        out["vertex_metrics"] = vertex
        matrix = metrics.confusion_matrix(self.true_emotions, self.predicted_emotions, len(self.labels))
        out["emotion"] = {
            "evaluated_clips": len(self.true_emotions),
            "clips_without_model_label": self.unmapped,
            "accuracy": metrics.accuracy_from_confusion(matrix) if self.true_emotions else None,
            "confusion_matrix": matrix.tolist(),
        }
        out["per_clip"] = self.per_clip
        return out
