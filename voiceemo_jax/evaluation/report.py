"""Evaluating a checkpoint on one split of a built dataset -> a JSON-able report.

    result = evaluate(Evaluation(checkpoint=CKPT, data_dir=DIR, split="test"))
    write_report(result, REPORT_DIR)       # report.json + PNG plots

The model runs (raw outputs, no smoothing or blinks) on every clip of the split, batched
through `inference.Predictor`. What is measured depends on the dataset's targets:

- "arkit" (52 coefficients): MAE/MSE overall, per channel group (`arkit.GROUPS`) and per
  channel, per-channel Pearson correlation, and LVE / EVE / FDD on a rig's vertices
  (coefficients x shape deltas): the bundled head by default, a user's .glb optionally.
- "vertex_offsets" (VOCASET, V x 3): MAE/MSE of the offsets, and LVE / EVE / FDD on the
  dataset's own vertices with the user's region index files (SPEC section 8).

Emotion accuracy and a confusion matrix are computed over the clips whose dataset emotion
is one of the model's labels (names matched after aliasing: fearful -> fear ...).

With a face-emotion classifier (`Evaluation.face_classifier`, configs/face_emotion.py) the
report's "face_emotion" section says whether the face shows the emotion the voice carries:
the classifier's accuracy on the generated animations, beside its accuracy on the ground
truth (the ceiling the generated faces can reach).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES, GROUPS, NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation import face_regions, metrics

# Dataset spellings -> the model's (the release's) label names.
EMOTION_ALIASES = {
    "fearful": "fear",
    "disgusted": "disgust",
    "surprised": "surprise",
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
}


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What to evaluate and how. Region files are index files (see `face_regions.read_index_file`)."""

    checkpoint: str | os.PathLike
    data_dir: str | os.PathLike
    split: str = "test"
    rig: str | os.PathLike | None = None  # .glb/.gltf head with ARKit-named targets; None: the bundled head
    lip_mask: str | os.PathLike | None = None
    eye_mask: str | os.PathLike | None = None
    upper_face_mask: str | os.PathLike | None = None
    batch_size: int = 8
    level: int | None = None  # None: each clip's own label
    person: int | None = None
    max_clips: int | None = None
    progress: bool = True
    face_classifier: str | os.PathLike | None = None  # face-emotion classifier folder: "face_emotion" section


@dataclasses.dataclass
class ClipOutput:
    """One evaluated clip: outputs/targets [T, D] float32, dataset emotion id, logits [labels],
    dataset level id."""

    clip_id: str
    outputs: np.ndarray
    targets: np.ndarray
    emotion: int
    logits: np.ndarray
    level: int = -1


@dataclasses.dataclass
class EvaluationResult:
    report: dict[str, Any]
    # For the plots: one clip's curves and every clip's jawOpen (blendshape outputs) or
    # region displacement norms (vertex outputs).
    example: ClipOutput | None
    jaw_tracks: list[tuple[str, np.ndarray, np.ndarray]]
    region_tracks: dict[str, tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------- emotions


def canonical_emotion(name: str) -> str:
    name = name.strip().lower()
    return EMOTION_ALIASES.get(name, name)


def emotion_label_map(dataset_emotions: Sequence[str], model_labels: Sequence[str]) -> np.ndarray:
    """[E] model label index for each dataset emotion, -1 where the model has no such label."""
    model_index = {canonical_emotion(label): i for i, label in enumerate(model_labels)}
    return np.array([model_index.get(canonical_emotion(name), -1) for name in dataset_emotions], np.int64)


# ----------------------------------------------------------------------------- vertex spaces


@dataclasses.dataclass
class VertexSpace:
    """Where LVE / EVE / FDD are measured: a rig's vertices or the dataset's own.

    `displacement(outputs, region)`: outputs [T, D] -> [T, R, 3] displacement of the
    region's vertices from the neutral/template mesh (a shared template cancels in every
    metric, so displacements are all the metrics need).
    """

    description: str
    num_vertices: int
    regions: dict[str, np.ndarray]
    region_sources: dict[str, str]
    # Rigs: region -> [S, R * 3] shape deltas, and the coefficient -> shape-weight map.
    bases: dict[str, np.ndarray] | None = None
    weights_fn: Any = None
    missing_shapes: tuple[str, ...] = ()

    def displacement(self, outputs: np.ndarray, region: str) -> np.ndarray:
        indices = self.regions[region]
        if self.bases is None:
            return outputs.reshape(len(outputs), self.num_vertices, 3)[:, indices]
        return (self.weights_fn(outputs) @ self.bases[region]).reshape(len(outputs), len(indices), 3)


def _user_regions(options: Evaluation, num_vertices: int) -> dict[str, tuple[np.ndarray, str]]:
    files = {"lip": options.lip_mask, "eye": options.eye_mask, "upper_face": options.upper_face_mask}
    flags = {"lip": "--lip-mask", "eye": "--eye-mask", "upper_face": "--upper-face-mask"}
    return {
        region: (face_regions.read_index_file(path, num_vertices, flags[region]), str(path))
        for region, path in files.items()
        if path is not None
    }


def rig_space(options: Evaluation) -> VertexSpace:
    """The rig the blendshape metrics pose: `options.rig` or the bundled head, with its regions."""
    if options.rig is None:
        from export.head_model import build_head

        head, missing, description = build_head(), (), "bundled procedural ARKit head"
    else:
        from export.gltf import read_head

        head, missing = read_head(options.rig)
        description = f"rig {options.rig}"
    num_vertices = len(head.vertices)
    regions = {name: (indices, "derived from the rig's shapes") for name, indices in
               face_regions.rig_regions(head.deltas, head.names).items()}  # fmt: skip
    regions.update(_user_regions(options, num_vertices))
    flat = head.deltas.reshape(len(head.names), num_vertices, 3)
    return VertexSpace(
        description=f"{description} ({num_vertices} vertices, {len(head.names)} shapes)",
        num_vertices=num_vertices,
        regions={name: indices for name, (indices, _) in regions.items()},
        region_sources={name: source for name, (_, source) in regions.items()},
        bases={name: flat[:, indices].reshape(len(head.names), -1) for name, (indices, _) in regions.items()},
        weights_fn=head.arkit_weights,
        missing_shapes=tuple(missing),
    )


def offset_space(options: Evaluation, target_dim: int) -> VertexSpace:
    """The dataset's own vertices (targets are [T, V * 3] offsets), regions from the user's files."""
    if options.rig is not None:
        raise UserError("--rig applies to blendshape datasets; this dataset's targets are vertex offsets")
    num_vertices = target_dim // 3
    regions = _user_regions(options, num_vertices)
    return VertexSpace(
        description=f"dataset vertices ({num_vertices})",
        num_vertices=num_vertices,
        regions={name: indices for name, (indices, _) in regions.items()},
        region_sources={name: source for name, (_, source) in regions.items()},
    )


# ----------------------------------------------------------------------------- running the model


def _controls(values: np.ndarray, override: int | None, limit: int, flag: str, clip_ids) -> list[int]:
    if override is not None:
        if not 0 <= override < limit:
            raise UserError(f"{flag} {override} is out of range: this model has 0..{limit - 1}")
        return [override] * len(values)
    for value, clip_id in zip(values, clip_ids):
        if not 0 <= value < limit:
            raise UserError(
                f"clip {clip_id} has {flag.lstrip('-')} label {value} but the model takes 0..{limit - 1}; "
                f"pass {flag} N to condition every clip on one value"
            )
    return [int(v) for v in values]


def run_model(predictor, batches, options: Evaluation, total: int | None = None) -> Iterator[ClipOutput]:
    """Predicts every valid clip of the eval batches ({"x": clip batch, "clip_id": [B]}) in order."""
    from tqdm import tqdm

    synth = predictor.config.synthesizer
    done = 0
    with tqdm(total=total, unit="clip", desc="evaluating", disable=not options.progress) as bar:
        for batch in batches:
            x = batch["x"]
            rows = np.flatnonzero(x["valid"])
            if options.max_clips is not None:
                rows = rows[: max(0, options.max_clips - done)]
            if not len(rows):
                continue
            clip_ids = [str(c) for c in batch["clip_id"][rows]]
            clips = [x["audio"][i, : x["num_samples"][i]] for i in rows]
            levels = _controls(x["level"][rows], options.level, synth.num_levels, "--level", clip_ids)
            persons = _controls(x["person"][rows], options.person, synth.num_persons, "--person", clip_ids)
            predictions = predictor.predict_batch(clips, levels=levels, persons=persons, names=clip_ids)
            for i, clip_id, prediction in zip(rows, clip_ids, predictions):
                frames = min(len(prediction.outputs), int(x["num_frames"][i]))
                yield ClipOutput(
                    clip_id=clip_id,
                    outputs=prediction.outputs[:frames],
                    targets=x["targets"][i, :frames],
                    emotion=int(x["emotion"][i]),
                    logits=prediction.emotion_logits,
                    level=int(x["level"][i]),
                )
            done += len(rows)
            bar.update(len(rows))
            if options.max_clips is not None and done >= options.max_clips:
                return


# ----------------------------------------------------------------------------- accumulating


class _Accumulator:
    """Per-clip metrics as clips arrive; pooled coefficient metrics at the end."""

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
        self.jaw_tracks: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.region_tracks: dict[str, tuple[list, list]] = {}
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


# ----------------------------------------------------------------------------- the whole evaluation


def evaluate(options: Evaluation, predictor=None) -> EvaluationResult:
    """Runs the checkpoint over the split and measures it (see the module docstring).

    `predictor`: an `inference.Predictor` to use instead of loading `options.checkpoint`
    (a training loop evaluating its live model; tests).

    Raises:
      UserError: missing/invalid dataset or checkpoint, unknown split, output width that
        does not match the targets, bad region files, controls out of range.
    """
    from data_pipelines.loading.input_pipeline import make_eval_iterator
    from data_pipelines.records import schema

    if options.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {options.batch_size}")
    metadata = schema.load_metadata(options.data_dir)
    if options.split not in metadata.split_sizes:
        available = ", ".join(f"{name} ({n} clips)" for name, n in metadata.split_sizes.items())
        raise UserError(f"{options.data_dir}: no split {options.split!r}; this build has {available}")
    face = None
    if options.face_classifier is not None:  # checked before the (long) model run
        from voiceemo_jax.face_emotion.loading import check_input_dim, load_face_classifier
        from voiceemo_jax.face_emotion.metric import FaceEmotionMetric

        reader = load_face_classifier(options.face_classifier)
        check_input_dim(reader.config, metadata.target_dim, options.face_classifier)
        face = FaceEmotionMetric(reader, metadata.emotions, metadata.levels, options.batch_size)
    if predictor is None:
        from voiceemo_jax.inference.predictor import Predictor

        predictor = Predictor.from_checkpoint(options.checkpoint)
    if predictor.output_dim != metadata.target_dim:
        kind = "ARKit coefficients" if metadata.target_kind == "arkit" else "vertex offsets (3 per vertex)"
        raise UserError(
            f"checkpoint {options.checkpoint} outputs {predictor.output_dim} values per frame but "
            f"{metadata.dataset} targets have {metadata.target_dim} ({kind})"
        )
    if metadata.target_kind == "arkit":
        if metadata.target_dim != NUM_BLENDSHAPES:
            raise UserError(f"{options.data_dir}: ARKit targets with {metadata.target_dim} channels, expected 52")
        space = rig_space(options)
    else:
        space = offset_space(options, metadata.target_dim)
    iterator = make_eval_iterator(
        options.data_dir, options.split, batch_size=options.batch_size, process_index=0, process_count=1
    )
    labels = predictor.emotion_labels
    accumulator = _Accumulator(metadata.target_kind, space, metadata.emotions, labels)
    total = metadata.split_sizes[options.split]
    if options.max_clips is not None:
        total = min(total, options.max_clips)
    for clip in run_model(predictor, iterator, options, total=total):
        accumulator.add(clip)
        if face is not None:
            face.add(clip, accumulator.per_clip[-1])
    if not accumulator.per_clip:
        raise UserError(f"{options.data_dir}: split {options.split!r} produced no clip to evaluate")
    report = {
        "checkpoint": str(options.checkpoint),
        "data": str(options.data_dir),
        "dataset": metadata.dataset,
        "split": options.split,
        "target_kind": metadata.target_kind,
        "outputs_evaluated": "raw model outputs (no smoothing, no synthetic blinks)",
        "conditioning": {
            "level": "each clip's label" if options.level is None else options.level,
            "person": "each clip's label" if options.person is None else options.person,
        },
        "emotion_labels": list(labels),
        "dataset_emotions": list(metadata.emotions),
        **accumulator.report(),
    }
    if face is not None:
        report["face_emotion"] = face.report()
    return EvaluationResult(
        report=_finite(report),
        example=accumulator.example,
        jaw_tracks=accumulator.jaw_tracks,
        region_tracks=accumulator.region_tracks,
    )


def _finite(value):
    """NaN/inf -> None, numpy scalars -> Python, recursively: report.json must be strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# ----------------------------------------------------------------------------- output


def write_report(result: EvaluationResult, out_dir: str | os.PathLike) -> list[str]:
    """Writes REPORT_DIR/report.json and the PNG plots, as one folder swapped in whole. -> file names."""
    import json
    from pathlib import Path

    from voiceemo_jax.atomic_files import atomic_path
    from voiceemo_jax.evaluation import plots

    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / "report.json").is_file():
        raise UserError(f"{out_dir} exists and is not an evaluation report folder; choose another --out")
    with atomic_path(out_dir, suffix="") as tmp:
        tmp.mkdir()
        plots = plots.write_plots(result, tmp)
        report = {**result.report, "plots": plots}
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return ["report.json", *plots]


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few human-readable lines of a report."""

    def fmt(value, scale=1.0, digits=4):
        return "n/a" if value is None else f"{value * scale:.{digits}g}"

    lines = [
        f"{report['dataset']} / {report['split']}: {report['num_clips']} clips, {report['num_frames']} frames "
        f"({report['target_kind']})",
        f"outputs  MAE {fmt(report['outputs']['mae'])}  MSE {fmt(report['outputs']['mse'])}",
    ]
    coefficients = report.get("coefficients")
    if coefficients:
        groups = "  ".join(f"{name} {fmt(v['mae'])}" for name, v in coefficients["per_group"].items())
        lines.append(f"per-group MAE  {groups}")
        lines.append(f"mean per-channel Pearson r {fmt(coefficients['mean_pearson'], digits=3)}")
    vertex = report["vertex_metrics"]
    lines.append(
        f"LVE {fmt(vertex['lve'], 1e5)} x1e-5  EVE {fmt(vertex['eve'], 1e5)} x1e-5  "
        f"FDD {fmt(vertex['fdd'], 1e7)} x1e-7   on {vertex['space']}"
    )
    emotion = report["emotion"]
    lines.append(
        f"emotion accuracy {fmt(emotion['accuracy'], digits=3)} over {emotion['evaluated_clips']} clips"
        + (
            f" ({emotion['clips_without_model_label']} clips' emotions are not model labels)"
            if emotion["clips_without_model_label"]
            else ""
        )  # fmt: skip
    )
    face = report.get("face_emotion")
    if face:
        lines.append(
            f"emotion read from the face: generated {fmt(face['generated']['accuracy'], digits=3)}, "
            f"ground truth {fmt(face['ground_truth']['accuracy'], digits=3)} (ceiling) over "
            f"{face['evaluated_clips']} clips"
        )
    return lines
