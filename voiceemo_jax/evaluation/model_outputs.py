"""Running the model over a split: every valid clip of the eval batches -> a `ClipOutput`.

    for clip in run_model(predictor, make_eval_iterator(...), level=None, person=None):
        clip.outputs  # [T, D] raw model outputs (no smoothing, no blinks)

Clips go through `Predictor.predict_batch` a batch at a time, conditioned on each clip's own
level and person labels unless one value is forced for all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from voiceemo_jax.errors import UserError


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


def run_model(
    predictor,
    batches: Iterable[dict],
    *,
    level: int | None = None,
    person: int | None = None,
    max_clips: int | None = None,
    progress: bool = True,
    total: int | None = None,
) -> Iterator[ClipOutput]:
    """Predicts every valid clip of the eval batches ({"x": clip batch, "clip_id": [B]}) in order.

    level / person: condition every clip on this value (None: each clip's label).
    max_clips: stop after this many clips. total: the progress bar's length.
    """
    from tqdm import tqdm

    synth = predictor.config.synthesizer
    done = 0
    with tqdm(total=total, unit="clip", desc="evaluating", disable=not progress) as bar:
        for batch in batches:
            x = batch["x"]
            rows = np.flatnonzero(x["valid"])
            if max_clips is not None:
                rows = rows[: max(0, max_clips - done)]
            if not len(rows):
                continue
            clip_ids = [str(c) for c in batch["clip_id"][rows]]
            clips = [x["audio"][i, : x["num_samples"][i]] for i in rows]
            levels = _controls(x["level"][rows], level, synth.num_levels, "--level", clip_ids)
            persons = _controls(x["person"][rows], person, synth.num_persons, "--person", clip_ids)
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
            if max_clips is not None and done >= max_clips:
                return
