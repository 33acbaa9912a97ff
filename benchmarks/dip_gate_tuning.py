"""How the dip gate got its three numbers: a grid over them, scored on real voices outside every benchmark set.

    python -m benchmarks.dip_gate_tuning --data DIR [--checkpoint CKPT] [--clips 60] --json OUT

The dip gate (`close_in_dips`, voiceemo_jax/inference/pauses.py) scales the mouth opening down by how
far a frame's level lies below the loudest frame within `radius` frames: not at all up to `free_db`
below it, then by 1/`span_db` per dB. Tuning voices: CMU ARCTIC aew and axb (DIR/cmu_arctic) and the
CC0 speaker Cathy (DIR/cathy_arctic), the first `--clips` prompts of each, phones from the offline
forced aligner over the prompt. None of them is trained on (the demo recipe's real speech is TESS and
RAVDESS, for emotion only) or in `benchmarks/real_speech.py`'s sets (LJSpeech, ARCTIC slt and bdl).

The model (default: the shipped demo model) runs once per clip, with its rest in pauses and without
the dip gate; each grid point multiplies that mouth opening by the point's gate (the gate scales the
channels the opening is a weighted sum of, so it scales the opening by the same factor). A point's
score: the mean over the three voices of opening r + AUC open vowel vs p/b/m + AUC open vowel vs /m/
(`voiceemo_jax.evaluation.lip_sync`). Prints the best points, the shipped defaults' row and no gate's
row; `--json` writes every point.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import arkit_predictor, print_and_write, results_parser, shown_path
from benchmarks.real_speech import DEMO_MODEL, arctic_clips, predict_all
from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation import lip_sync
from voiceemo_jax.inference import pauses

VOICES = {"aew": "cmu_arctic", "axb": "cmu_arctic", "cathy": "cathy_arctic"}  # speaker: folder
RADII = (2, 3, 5, 8)  # frames
FREE_DB = (0.0, 3.0, 5.0, 6.0, 10.0, 15.0, 20.0)
SPAN_DB = (5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 90.0)
MEASURES = ("correlation", "auc_open_vs_bilabial", "auc_open_vs_m")


def voice_clips(predictor, root: Path, limit: int) -> dict[str, list]:
    """speaker -> [(phones, model opening, frame levels)] of its first `limit` aligned prompts."""
    out = {}
    for speaker, folder in VOICES.items():
        if not (root / folder / "index.tsv").is_file():
            raise UserError(f"--data {root}: no {folder}/index.tsv (the tuning voice {speaker})")
        clips, _ = arctic_clips(root, [speaker], limit, folder)
        predictions = predict_all(predictor, [audio for audio, _ in clips])
        out[speaker] = []
        for (audio, phones), prediction in zip(clips, predictions):
            opening = lip_sync.mouth_opening(prediction.outputs)
            out[speaker].append((phones, opening, pauses.frame_levels_db(audio, len(opening))))
        print(f"{speaker}: {len(clips)} clips", flush=True)
    return out


def scores(voices: dict[str, list], gate: dict | None) -> dict:
    """speaker -> {measure: value} of the openings under the dip gate of `gate`'s keywords (None: no gate)."""
    out = {}
    for speaker, clips in voices.items():
        summary = lip_sync.LipSyncScores()
        for phones, opening, levels in clips:
            factor = 1.0 if gate is None else pauses.dip_gate(levels, **gate)
            summary.add_clip(phones, {"model": opening * factor})
        out[speaker] = {m: summary.summary()["model"][m] for m in MEASURES}
    return out


def objective(per_voice: dict) -> float:
    return float(np.mean([sum(v.values()) for v in per_voice.values()]))


def table(rows: list[dict], top: int) -> str:
    head = "| radius | free dB | span dB | score | " + " | ".join(f"{s} r / p/b/m / m" for s in VOICES) + " |"
    lines = [head, "|" + "---:|" * (4 + len(VOICES))]
    for row in rows[:top]:
        g = row["gate"] or {"radius": "none", "free_db": "", "span_db": ""}
        cells = " | ".join("{:.3f} / {:.3f} / {:.3f}".format(*(row["voices"][s][m] for m in MEASURES)) for s in VOICES)
        lines.append(f"| {g['radius']} | {g['free_db']} | {g['span_db']} | {row['score']:.4f} | {cells} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = results_parser(__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the real-speech folder (cmu_arctic/, cathy_arctic/)")
    parser.add_argument("--checkpoint", type=Path, default=DEMO_MODEL, help="model (default: the shipped demo model)")
    parser.add_argument("--clips", type=int, default=60, help="prompts per tuning voice (default 60)")
    args = parser.parse_args(argv)
    try:
        start = time.perf_counter()
        predictor = arkit_predictor(args.checkpoint, "--checkpoint", rest_in_pauses=True, close_in_dips=False)
        voices = voice_clips(predictor, args.data, args.clips)
        none = {"gate": None, "voices": scores(voices, None)}
        rows = []
        for radius, free_db, span_db in itertools.product(RADII, FREE_DB, SPAN_DB):
            gate = {"radius": radius, "free_db": free_db, "span_db": span_db}
            rows.append({"gate": gate, "voices": scores(voices, gate)})
        for row in [none, *rows]:
            row["score"] = objective(row["voices"])
        rows.sort(key=lambda row: -row["score"] if np.isfinite(row["score"]) else np.inf)  # nan (a voice
        # without open-vowel, p/b/m or /m/ frames in its first --clips prompts) last
        shipped = {"radius": pauses.DIP_RADIUS_FRAMES, "free_db": pauses.DIP_FREE_DB, "span_db": pauses.DIP_SPAN_DB}
        shipped_row = next(row for row in rows if row["gate"] == shipped)
    except UserError as error:
        print(f"dip_gate_tuning: error: {error}", file=sys.stderr)
        return 2
    results = {
        "checkpoint": shown_path(args.checkpoint),
        "clips_per_voice": {s: len(c) for s, c in voices.items()},
        "shipped": shipped,
        "shipped_rank": rows.index(shipped_row) + 1,
        "no_gate": none,
        "points": rows,
        "seconds": time.perf_counter() - start,
    }
    text = (
        f"best {min(10, len(rows))} of {len(rows)} points:\n{table(rows, 10)}\n\n"
        f"shipped defaults (rank {results['shipped_rank']}) and no gate:\n{table([shipped_row, none], 2)}"
    )
    return print_and_write(results, text, args.json)


if __name__ == "__main__":
    sys.exit(main())
