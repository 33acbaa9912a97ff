"""Writing an evaluation's report: REPORT_DIR/report.json + PNG plots, and a few summary lines.

result = evaluate.evaluate(options)            # an `EvaluationResult`
write_report(result, REPORT_DIR)              # -> ["report.json", "curves.png", ...]
print("\n".join(summary_lines(result.report)))
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation.model_outputs import ClipOutput


@dataclasses.dataclass
class EvaluationResult:
    report: dict[str, Any]  # strict JSON (see `strict_json`)
    # For the plots: one clip's curves and every clip's jawOpen (blendshape outputs) or
    # region displacement norms (vertex outputs).
    example: ClipOutput | None
    jaw_tracks: list[tuple[str, np.ndarray, np.ndarray]]
    region_tracks: dict[str, tuple[np.ndarray, np.ndarray]]


def strict_json(value):
    """NaN/inf -> None, numpy scalars -> Python, recursively: report.json must be strict JSON."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


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
        written = plots.write_plots(result, tmp)
        report = {**result.report, "plots": written}
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return ["report.json", *written]


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
