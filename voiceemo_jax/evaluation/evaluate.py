"""Evaluating a checkpoint on one split of a built dataset -> a JSON-able report.

    result = evaluate(Evaluation(checkpoint=CKPT, data_dir=DIR, split="test"))
    report.write_report(result, REPORT_DIR)       # report.json + PNG plots

The model runs (raw outputs, no smoothing or blinks) on every clip of the split, batched
through `inference.predictor.Predictor` (`model_outputs.run_model`). What is measured depends
on the dataset's targets (`aggregate.Accumulator`):

- "arkit" (52 coefficients): MAE/MSE overall, per channel group (`arkit.GROUPS`) and per
  channel, per-channel Pearson correlation, and LVE / EVE / FDD on a rig's vertices
  (coefficients x shape deltas): the bundled head by default, a user's .glb optionally.
- "vertex_offsets" (VOCASET, V x 3): MAE/MSE of the offsets, and LVE / EVE / FDD on the
  dataset's own vertices with the user's region index files (SPEC section 8).

Emotion accuracy and a confusion matrix are computed over the clips whose dataset emotion
is one of the model's labels (names matched after aliasing, `labels`: fearful -> fear ...).

With a face-emotion classifier (`Evaluation.face_classifier`, configs/face_emotion.py) the
report's "face_emotion" section says whether the face shows the emotion the voice carries:
the classifier's accuracy on the generated animations, beside its accuracy on the ground
truth (the ceiling the generated faces can reach).
"""

from __future__ import annotations

import dataclasses
import os

from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation.aggregate import Accumulator
from voiceemo_jax.evaluation.model_outputs import run_model
from voiceemo_jax.evaluation.report import EvaluationResult, strict_json
from voiceemo_jax.evaluation.vertex_spaces import offset_space, rig_space


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

    @property
    def region_files(self) -> dict[str, str | os.PathLike | None]:
        return {"lip": self.lip_mask, "eye": self.eye_mask, "upper_face": self.upper_face_mask}


def evaluate(options: Evaluation, predictor=None) -> EvaluationResult:
    """Runs the checkpoint over the split and measures it (see the module docstring).

    `predictor`: an `inference.predictor.Predictor` to use instead of loading
    `options.checkpoint` (a training loop evaluating its live model; tests).

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
        space = rig_space(options.rig, options.region_files)
    else:
        space = offset_space(options.rig, options.region_files, metadata.target_dim)
    iterator = make_eval_iterator(
        options.data_dir, options.split, batch_size=options.batch_size, process_index=0, process_count=1
    )
    labels = predictor.emotion_labels
    accumulator = Accumulator(metadata.target_kind, space, metadata.emotions, labels)
    total = metadata.split_sizes[options.split]
    if options.max_clips is not None:
        total = min(total, options.max_clips)
    clips = run_model(
        predictor, iterator, level=options.level, person=options.person, max_clips=options.max_clips,
        progress=options.progress, total=total,
    )  # fmt: skip
    for clip in clips:
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
        report=strict_json(report),
        example=accumulator.example,
        jaw_tracks=accumulator.jaw_tracks,
        region_tracks=accumulator.region_tracks,
    )
