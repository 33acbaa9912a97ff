"""Quality of a model trained on the synthetic corpus (the shipped demo model by default).

    python -m benchmarks.demo_quality --corpus corpus [--checkpoint CKPT] [--compare CKPT2] [--json OUT]

Reads the corpus as `voiceemo data synth` wrote it (corpus.json, wav/, targets/) and
reports, on the held-out sentences of the training voices ("test") and on the held-out
voice ("test_voice": its test sentences, and all its sentences):

- mouth-group MAE (jaw, mouth and tongue channels) of the model against two baselines:
  the mean pose (per-channel mean of the training targets) and a loudness-driven jawOpen
  (jawOpen linear in the frame's log-RMS, fitted on the training split by least squares;
  every other channel at the mean pose); the model's with its 95% interval from 1000 draws of
  the set's clips with replacement;
- with `--compare`, another model's mouth MAE on the same clips and the 95% interval of the
  difference (model minus the other) on the same draws: an interval across 0 means the two cannot
  be told apart on these clips;
- emotion accuracy over the 7 emotions (the emotion encoder's classifier);
- the swap test: content from clip A, emotion from clip B (same voice, another sentence
  and emotion; `--emotion-audio`): the correlation of the mouth channels with A's targets,
  swapped against unswapped, and how often the upper face's nearest emotion signature
  (per-emotion mean of the training targets over brows, eye squint/wide, cheeks and nose)
  is B's emotion (and how often it is still A's).

Controls: level = the clip's level - 1, person = the voice's index (the builder's
labels); the held-out voice, which has no trained person embedding, uses person 0.
Predictions are raw (no smoothing, no blinks), as the targets are.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import arkit_predictor, print_and_write, results_parser, shown_path
from voiceemo_jax.arkit import ARKIT_NAMES, GROUPS, INDEX
from voiceemo_jax.errors import UserError
from voiceemo_jax.inference import pauses

DEMO_MODEL = Path(__file__).resolve().parents[1] / "voiceemo_jax" / "demo_assets" / "model"
MOUTH = np.array(GROUPS["jaw_mouth"])
UPPER = np.array(
    [i for i, n in enumerate(ARKIT_NAMES) if n.startswith(("brow", "eyeSquint", "eyeWide", "cheek", "nose"))]
)
JAW = INDEX["jawOpen"]
SAMPLES_PER_FRAME = 16000 / 30
BATCH = 16
BOOTSTRAP = 1000  # draws of a set's clips for the intervals


def mouth_errors(outputs: list[np.ndarray], targets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: the summed absolute mouth-group error and the number of values it sums."""
    sums = np.array([np.abs(o[:, MOUTH] - t[:, MOUTH]).sum() for o, t in zip(outputs, targets)], np.float64)
    return sums, np.array([t[:, MOUTH].size for t in targets], np.float64)


def pooled_mae(sums: np.ndarray, counts: np.ndarray) -> float:
    """The mouth MAE over all the clips of `mouth_errors`."""
    return float(sums.sum() / counts.sum())


def mae_draws(sums: np.ndarray, counts: np.ndarray, seed: int = 0) -> np.ndarray:
    """The pooled MAE of `BOOTSTRAP` draws of the clips with replacement (the same draws for the same
    number of clips and seed, so two models' draws pair up)."""
    draws = np.random.default_rng(seed).integers(0, len(sums), (BOOTSTRAP, len(sums)))
    return sums[draws].sum(axis=1) / counts[draws].sum(axis=1)


def interval95(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.percentile(values, [2.5, 97.5])]


def load_corpus(root: Path) -> tuple[dict, list[dict]]:
    """corpus.json and its clips, each with "split" (its sentence's) and "held_out" (its voice's)."""
    corpus = json.loads((root / "corpus.json").read_text())
    split_of = {s["id"]: s["split"] for s in corpus["sentences"]}
    held_out = {v["name"]: v["held_out"] for v in corpus["voices"]}
    voices = [v["name"] for v in corpus["voices"]]
    clips = []
    for clip in corpus["clips"]:
        clips.append({**clip, "split": split_of[clip["sentence"]], "held_out": held_out[clip["voice"]],
                      "person": 0 if held_out[clip["voice"]] else voices.index(clip["voice"])})  # fmt: skip
    return corpus, clips


def read_clip(root: Path, clip: dict) -> tuple[np.ndarray, np.ndarray]:
    from voiceemo_jax.audio import load_audio

    return load_audio(root / clip["wav"]), np.load(root / clip["target"])


def frame_loudness(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """[num_frames] log-RMS (dB) of each 30 fps frame's samples."""
    edges = np.round(np.arange(num_frames + 1) * SAMPLES_PER_FRAME).astype(int)
    # The last frame may reach past the audio (T = ceil(seconds * 30)): it gets what is left.
    power = np.array([np.mean(audio[a:b] ** 2) if len(audio[a:b]) else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    return 10 * np.log10(power + 1e-8)


class Baselines:
    """The mean pose and the loudness-driven jawOpen, fitted on training clips."""

    def __init__(self, train: list[tuple[np.ndarray, np.ndarray]]):
        targets = np.concatenate([t for _, t in train])
        self.mean_pose = targets.mean(axis=0)
        loud = np.concatenate([frame_loudness(a, len(t)) for a, t in train])
        design = np.stack([loud, np.ones_like(loud)], axis=1)
        self.jaw_coef, *_ = np.linalg.lstsq(design, targets[:, JAW], rcond=None)

    def mean(self, num_frames: int) -> np.ndarray:
        return np.broadcast_to(self.mean_pose, (num_frames, len(self.mean_pose)))

    def loudness_jaw(self, audio: np.ndarray, num_frames: int) -> np.ndarray:
        out = self.mean(num_frames).copy()
        out[:, JAW] = np.clip(self.jaw_coef[0] * frame_loudness(audio, num_frames) + self.jaw_coef[1], 0.0, 1.0)
        return out


def emotion_signatures(train: list[tuple[dict, np.ndarray]], emotions: list[str]) -> np.ndarray:
    """[emotions, upper-face channels]: each emotion's mean upper face over its training frames."""
    frames = defaultdict(list)
    for clip, targets in train:
        frames[clip["emotion"]].append(targets[:, UPPER])
    return np.stack([np.concatenate(frames[e]).mean(axis=0) for e in emotions])


def nearest_emotion(outputs: np.ndarray, signatures: np.ndarray) -> int:
    return int(np.argmin(np.linalg.norm(signatures - outputs[:, UPPER].mean(axis=0), axis=1)))


def mouth_correlation(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean Pearson r over the mouth channels that move in the targets."""
    rs = []
    for c in MOUTH:
        if targets[:, c].std() > 1e-3 and outputs[:, c].std() > 1e-6:
            rs.append(np.corrcoef(outputs[:, c], targets[:, c])[0, 1])
    return float(np.mean(rs)) if rs else float("nan")


def predict_all(predictor, clips, audio, emotion_audio=None) -> list:
    """Predictions for clips (batches of similar length)."""
    order = sorted(range(len(clips)), key=lambda i: len(audio[i]))
    results = [None] * len(clips)
    for begin in range(0, len(order), BATCH):
        rows = order[begin : begin + BATCH]
        predictions = predictor.predict_batch(
            [audio[i] for i in rows],
            levels=[clips[i]["level"] - 1 for i in rows],
            persons=[clips[i]["person"] for i in rows],
            emotion_clips=None if emotion_audio is None else [emotion_audio[i] for i in rows],
        )
        for i, prediction in zip(rows, predictions):
            results[i] = prediction
    return results


def swap_partner(a: dict, pool: list[dict], emotions: list[str]) -> int:
    """Index in `pool` of clip B for A: same voice, another sentence, the next emotion round the list."""
    start = emotions.index(a["emotion"])
    for step in range(1, len(emotions)):
        wanted = emotions[(start + step + a["sentence"]) % len(emotions)]
        if wanted == a["emotion"]:
            continue
        for j, b in enumerate(pool):
            if b["voice"] == a["voice"] and b["sentence"] != a["sentence"] and b["emotion"] == wanted:
                return j
    raise ValueError(f"no swap partner for {a['wav']}")


def evaluate_set(name, predictor, root, clips, baselines, signatures, emotions, compare=None) -> dict:
    """One set's figures; `compare`: another predictor, whose mouth MAE is set beside the model's."""
    data = [read_clip(root, c) for c in clips]
    audio = [a for a, _ in data]
    targets = [t for _, t in data]
    predictions = predict_all(predictor, clips, audio)
    labels = list(predictor.emotion_labels)

    def mouth_mae(outputs):
        return pooled_mae(*mouth_errors(outputs, targets))

    model_out = [p.outputs for p in predictions]
    model_errors = mouth_errors(model_out, targets)
    model_draws = mae_draws(*model_errors)
    correct = [labels[int(np.argmax(p.emotion_logits))] == c["emotion"] for p, c in zip(predictions, clips)]
    report = {
        "clips": len(clips),
        "mouth_mae": {
            "model": pooled_mae(*model_errors),
            "mean_pose": mouth_mae([baselines.mean(len(t)) for t in targets]),
            "loudness_jaw": mouth_mae([baselines.loudness_jaw(a, len(t)) for a, t in zip(audio, targets)]),
        },
        "jaw_open_correlation": float(
            np.mean([np.corrcoef(o[:, JAW], t[:, JAW])[0, 1] for o, t in zip(model_out, targets)])
        ),
        "emotion_accuracy": float(np.mean(correct)),
        "mouth_mae_interval95": interval95(model_draws),
    }
    if compare is not None:
        other = mouth_errors([p.outputs for p in predict_all(compare, clips, audio)], targets)
        other_draws = mae_draws(*other)
        report["compare"] = {
            "mouth_mae": pooled_mae(*other),
            "mouth_mae_interval95": interval95(other_draws),
            "model_minus_compare_interval95": interval95(model_draws - other_draws),
        }
    partners = [swap_partner(c, clips, emotions) for c in clips]
    swapped = predict_all(predictor, clips, audio, emotion_audio=[audio[j] for j in partners])
    swapped_out = [p.outputs for p in swapped]
    nearest = [emotions[nearest_emotion(o, signatures)] for o in swapped_out]
    report["swap"] = {
        "pairs": len(clips),
        "mouth_correlation_with_content_targets": {
            "swapped": float(np.nanmean([mouth_correlation(o, t) for o, t in zip(swapped_out, targets)])),
            "unswapped": float(np.nanmean([mouth_correlation(o, t) for o, t in zip(model_out, targets)])),
        },
        "upper_face_nearest_is_emotion_clip": float(
            np.mean([n == clips[j]["emotion"] for n, j in zip(nearest, partners)])
        ),
        "upper_face_nearest_is_content_clip": float(np.mean([n == c["emotion"] for n, c in zip(nearest, clips)])),
        "unswapped_upper_face_nearest_is_own": float(
            np.mean([emotions[nearest_emotion(o, signatures)] == c["emotion"] for o, c in zip(model_out, clips)])
        ),
    }
    print(f"{name}: {len(clips)} clips evaluated", file=sys.stderr)
    return report


def table(results: dict) -> str:
    header = ("| set | clips | mouth MAE model | mean pose | loudness jaw | jawOpen r | emotion acc "
              "| swap: mouth r swapped / unswapped | swap: upper face = B | = A |")  # fmt: skip
    rows = [header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    compared = "compare_checkpoint" in results
    for name, r in results["sets"].items():
        m, s = r["mouth_mae"], r["swap"]
        corr = s["mouth_correlation_with_content_targets"]
        rows.append(f"| {name} | {r['clips']} | {m['model']:.4f} | {m['mean_pose']:.4f} | {m['loudness_jaw']:.4f} | "
                    f"{r['jaw_open_correlation']:.3f} | {r['emotion_accuracy']:.1%} | {corr['swapped']:.3f} / "
                    f"{corr['unswapped']:.3f} | {s['upper_face_nearest_is_emotion_clip']:.1%} | "
                    f"{s['upper_face_nearest_is_content_clip']:.1%} |")  # fmt: skip
    extra = (" compared model | model - compared (95%) |", "---:|---:|") if compared else ("", "")
    rows += ["", "| set | mouth MAE model (95% interval) |" + extra[0], "|---|---:|" + extra[1]]
    for name, r in results["sets"].items():
        low, high = r["mouth_mae_interval95"]
        row = f"| {name} | {r['mouth_mae']['model']:.4f} ({low:.4f}-{high:.4f}) |"
        if compared:
            c = r["compare"]
            (c_low, c_high), (d_low, d_high) = c["mouth_mae_interval95"], c["model_minus_compare_interval95"]
            row += f" {c['mouth_mae']:.4f} ({c_low:.4f}-{c_high:.4f}) | {d_low:+.4f} to {d_high:+.4f} |"
        rows.append(row)
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = results_parser(__doc__)
    parser.add_argument("--corpus", required=True, type=Path, help="a `voiceemo data synth` corpus folder")
    parser.add_argument("--checkpoint", type=Path, default=DEMO_MODEL, help="model (default: the shipped demo model)")
    parser.add_argument("--max-train-clips", type=int, default=600, help="training clips used to fit the baselines")
    parser.add_argument(
        "--compare", type=Path, help="another model: its mouth MAE on the same clips, and the difference"
    )
    pauses.add_argument(parser)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        predictor = arkit_predictor(args.checkpoint, "--checkpoint", **pauses.requested(args))
        compare = arkit_predictor(args.compare, "--compare", **pauses.requested(args)) if args.compare else None
    except UserError as error:
        print(f"demo_quality: error: {error}", file=sys.stderr)
        return 2
    corpus, clips = load_corpus(args.corpus)
    emotions = list(corpus["emotions"])
    train = [c for c in clips if c["split"] == "train" and not c["held_out"]]
    train = train[:: max(1, len(train) // args.max_train_clips)]
    train_data = [read_clip(args.corpus, c) for c in train]
    baselines = Baselines(train_data)
    signatures = emotion_signatures([(c, t) for c, (_, t) in zip(train, train_data)], emotions)
    sets = {
        "test (held-out sentences)": [c for c in clips if c["split"] == "test" and not c["held_out"]],
        "held-out voice, test sentences": [c for c in clips if c["split"] == "test" and c["held_out"]],
        "held-out voice, all sentences": [c for c in clips if c["held_out"]],
    }
    results = {
        "checkpoint": shown_path(args.checkpoint),
        **pauses.in_use(predictor),
        "corpus": {"name": corpus["name"], "version": corpus["version"], "seed": corpus["seed"]},
        "baseline_fit_clips": len(train),
        **({"compare_checkpoint": shown_path(args.compare)} if args.compare else {}),
        "sets": {
            name: evaluate_set(name, predictor, args.corpus, chosen, baselines, signatures, emotions, compare)
            for name, chosen in sets.items()
            if chosen
        },
    }
    results["seconds"] = round(time.perf_counter() - start, 1)
    return print_and_write(results, table(results), args.json)


if __name__ == "__main__":
    sys.exit(main())
