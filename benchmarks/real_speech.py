"""The demo model on held-out real speech: lip sync against phone timings, emotion of real voices.

    python -m benchmarks.real_speech --checkpoint CKPT --data DIR --json OUT [--corpus SYNTH_CORPUS]

DIR is the real-speech folder (`cmu_arctic/`, `ljspeech/`, `tess/`, `ravdess/`, each with
`index.tsv`); the held-out recordings are those of `voiceemo_jax.evaluation.held_out_speech`
(never trained on). Reports:

- lip sync (`voiceemo_jax.evaluation.lip_sync`) on LJSpeech (its forced-aligned phone TextGrids)
  and on each held-out ARCTIC speaker (slt and bdl by default; phones from the offline forced
  aligner, `data_pipelines.sources.speech_alignment`, over the prompt):
  correlation of the predicted mouth opening with the phone-derived openness reference, and
  the AUC of mouth opening between open-vowel frames and bilabial (p, b, m) frames, and between
  open-vowel and /m/ frames; beside the loudness baseline (frame log-RMS) and the phone-driven
  ceiling (the true phones through the viseme rules the training targets come from), with 95%
  intervals from 1000 draws of the set's clips with replacement, for each signal and for its
  difference from loudness (`LipSyncScores.summary`); and, as a
  diagnostic beside the issue's measure, LJSpeech again with its unstressed AH0 read as schwa
  (ARPAbet "ax": a mid vowel, so neither an open vowel nor as open in the reference), and LJSpeech
  again with the emotion taken from one held-out neutral RAVDESS recording (`--emotion-audio`'s
  way) instead of each clip's own: lip sync apart from the emotion the model reads, whose
  expression moves the jaw; and LJSpeech streamed (`Streamer`'s default geometry: 4 s windows,
  each normalised and read for its emotion on its own), as `voiceemo stream` would animate it;
- 7-class emotion accuracy (angry, disgust, fear, happy, neutral, sad, surprise) on the held-out
  RAVDESS actors (calm left out) and the held-out TESS words, with its 95% interval (Wilson score:
  104 clips leave about +-10 points) and confusion matrices;
- pauses: the mean mouth opening where nobody speaks, over a 3 s silent clip and over the middle
  of an 8 s pause (digital silence, or white noise at -60 or -40 dBFS RMS) between two copies
  of the shortest LJSpeech clip, the clip run whole and streamed (`Streamer`'s default
  geometry, whose 4 s windows fall wholly inside the pause), beside the mean opening over that
  clip's speech;
- with `--corpus`, the synthetic-corpus figures of `benchmarks/demo_quality.py`.

Predictions: person 0, level 1 (the strong level), raw outputs (no smoothing, no blinks).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import arkit_predictor, print_and_write, results_parser, shown_path
from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation import held_out_speech as held
from voiceemo_jax.evaluation import lip_sync
from voiceemo_jax.inference import pauses
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ

DEMO_MODEL = Path(__file__).resolve().parents[1] / "voiceemo_jax" / "demo_assets" / "model"
BATCH = 8
LEVEL, PERSON = 1, 0
BOOTSTRAP = 1000  # draws of each lip-sync set's clips for its intervals


def load(path: Path) -> np.ndarray:
    from voiceemo_jax.audio import load_audio

    return load_audio(path)


def predict_all(predictor, audio: list[np.ndarray], emotion_audio: np.ndarray | None = None) -> list:
    """Predictions of the clips, batched by length (clips past the window run windowed); the
    emotion read from `emotion_audio` for every clip where given, else from each clip itself."""
    results = [None] * len(audio)
    short = sorted(
        (i for i in range(len(audio)) if not predictor.needs_window(len(audio[i]))), key=lambda i: len(audio[i])
    )
    for begin in range(0, len(short), BATCH):
        rows = short[begin : begin + BATCH]
        batch = predictor.predict_batch(
            [audio[i] for i in rows],
            levels=[LEVEL] * len(rows),
            persons=[PERSON] * len(rows),
            emotion_clips=None if emotion_audio is None else [emotion_audio] * len(rows),
        )
        for i, prediction in zip(rows, batch):
            results[i] = prediction
    for i in range(len(audio)):
        if results[i] is None:
            results[i] = predictor.predict(audio[i], level=LEVEL, person=PERSON, emotion_audio=emotion_audio)
    return results


def ceiling_opening(phones: list[lip_sync.PhoneInterval], num_frames: int) -> np.ndarray:
    """Mouth opening of the phone-driven face: the phones through the training targets' viseme rules."""
    from data_pipelines.sources.synth.visemes import viseme_curves

    as_visemes = [lip_sync.PhoneInterval(p.name or "pau", p.start, p.end) for p in phones]
    return lip_sync.mouth_opening(viseme_curves(as_visemes, num_frames))


def lip_sync_set(predictor, clips: list[tuple[np.ndarray, list[lip_sync.PhoneInterval]]], predictions=None) -> dict:
    """clips: (audio, phones) -> LipSyncScores.summary() for "model", "loudness" and "ceiling"
    (`predictions`: the clips' predictions where already made)."""
    if predictions is None:
        predictions = predict_all(predictor, [a for a, _ in clips])
    return opening_scores(clips, [lip_sync.mouth_opening(p.outputs) for p in predictions])


def opening_scores(clips: list[tuple[np.ndarray, list[lip_sync.PhoneInterval]]], openings: list[np.ndarray]) -> dict:
    """clips: (audio, phones), openings: the model's mouth opening [T] of each -> `lip_sync_set`'s summary."""
    scores = lip_sync.LipSyncScores()
    for (audio, phones), opening in zip(clips, openings):
        n = len(opening)
        scores.add_clip(phones, {
            "model": opening,
            "loudness": lip_sync.loudness(audio, n),
            "ceiling": ceiling_opening(phones, n),
        })  # fmt: skip
    return scores.summary(bootstrap=BOOTSTRAP)


def ljspeech_phones(root: Path, limit: int | None, *, schwa: bool = False) -> list[list[lip_sync.PhoneInterval]]:
    """The TextGrid phones of the LJSpeech clips; `schwa`: unstressed AH0 read as schwa (ax)."""
    grids = root / "ljspeech" / "TextGrid"
    recordings = held.read_index(root / "ljspeech")[:limit]
    return [lip_sync.read_textgrid_phones(grids / (r.path.stem + ".TextGrid"), schwa=schwa) for r in recordings]


def ljspeech_clips(root: Path, limit: int | None) -> list:
    """(audio, TextGrid phones) of the LJSpeech clips."""
    recordings = held.read_index(root / "ljspeech")[:limit]
    return list(zip((load(r.path) for r in recordings), ljspeech_phones(root, limit)))


def arctic_clips(
    root: Path, speakers: list[str], limit: int | None, folder: str = "cmu_arctic"
) -> tuple[list, list[str]]:
    """(audio, aligner phones) of the ARCTIC prompts `speakers` read (in root / folder; the first
    `limit` of them), and the files the aligner refused."""
    from data_pipelines.sources.speech_alignment import AlignmentError, align

    clips, failed = [], []
    recordings = [r for r in held.read_index(root / folder) if r.speaker in speakers][:limit]
    for recording in recordings:
        audio = load(recording.path)
        try:
            phones = align(audio, recording.text)
        except AlignmentError as error:
            failed.append(f"{recording.path.name}: {error}")
            continue
        clips.append(
            (audio, [lip_sync.PhoneInterval(lip_sync.normalise_phone(p.name), p.start, p.end) for p in phones])
        )
    return clips, failed


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy of `correct` out of `total` (nan, nan for no clips)."""
    if total == 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest

    interval = binomtest(correct, total).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def emotion_set(predictor, recordings: list[held.Recording]) -> dict:
    """7-class accuracy of the emotion read from each recording, with its 95% interval and the
    confusion matrix."""
    labels = list(predictor.emotion_labels)
    missing = [e for e in held.EMOTIONS if e not in labels]
    if missing:
        raise UserError(f"the model has no emotion class for {missing} (its labels: {labels})")
    predictions = predict_all(predictor, [load(r.path) for r in recordings])
    columns = [labels.index(e) for e in held.EMOTIONS]  # the 7 classes, in a fixed order
    truth = np.array([held.EMOTIONS.index(r.emotion) for r in recordings])
    guess = np.array([int(np.argmax(p.emotion_logits[columns])) for p in predictions])
    confusion = np.zeros((len(held.EMOTIONS),) * 2, int)
    np.add.at(confusion, (truth, guess), 1)
    correct = int(np.sum(truth == guess))
    return {
        "clips": len(recordings),
        "correct": correct,
        "accuracy": float(np.mean(truth == guess)),
        "interval95": list(accuracy_interval(correct, len(recordings))),
        "per_emotion": {e: float(confusion[i, i] / max(confusion[i].sum(), 1)) for i, e in enumerate(held.EMOTIONS)},
        "confusion": {"rows_true_cols_predicted": list(held.EMOTIONS), "counts": confusion.tolist()},
    }


def emotion_recordings(root: Path) -> dict[str, list[held.Recording]]:
    ravdess = [r for r in held.read_index(root / "ravdess") if held.is_held_out(r) and r.emotion != "calm"]
    tess = held.read_index(root / "tess")
    words = held.held_out_tess_words(tess)
    return {
        f"RAVDESS actors {'+'.join(held.HELD_OUT_RAVDESS_ACTORS)} (no calm)": ravdess,
        f"TESS held-out words ({len(words)} words)": [r for r in tess if held.is_held_out(r, words)],
    }


def neutral_recording(root: Path) -> held.Recording:
    """The first (by file name) held-out RAVDESS recording labelled neutral."""
    neutral = sorted(
        (r for r in held.read_index(root / "ravdess") if held.is_held_out(r) and r.emotion == "neutral"),
        key=lambda r: r.path.name,
    )
    if not neutral:
        raise UserError(f"--data {root}: no held-out neutral RAVDESS recording")
    return neutral[0]


PAUSE_SECONDS = 8.0
PAUSE_NOISE_DBFS = {"digital silence": None, "noise at -60 dBFS": -60.0, "noise at -40 dBFS": -40.0}


def pause_figures(opening, streamed, speech: np.ndarray) -> dict:
    """Mean mouth opening where nobody speaks (module docstring, "pauses"). opening, streamed:
    audio [S] -> the model's mouth opening [T], the clip run whole or streamed; `speech`: the
    clip either side of each pause. Noise seeded: the same figures on every run."""
    rng = np.random.default_rng(0)
    speech = np.asarray(speech, np.float32)
    speech_frames = len(speech) * FPS // SAMPLE_RATE_HZ
    pause = int(PAUSE_SECONDS * SAMPLE_RATE_HZ)
    middle = slice(speech_frames + FPS, speech_frames + int(PAUSE_SECONDS * FPS) - FPS)  # 1 s in from each end
    out = {"silent clip (3 s)": float(np.mean(opening(np.zeros(3 * SAMPLE_RATE_HZ, np.float32)))),
           "speech (whole clip)": float(np.mean(opening(speech))), "pause_seconds": PAUSE_SECONDS}  # fmt: skip
    for name, dbfs in PAUSE_NOISE_DBFS.items():
        gap = np.zeros(pause) if dbfs is None else rng.standard_normal(pause) * 10 ** (dbfs / 20)
        audio = np.concatenate([speech, gap, speech]).astype(np.float32)
        out[f"pause, {name}"] = {
            "whole clip": float(np.mean(opening(audio)[middle])),
            "streamed": float(np.mean(streamed(audio)[middle])),
        }
    return out


def model_openings(predictor):
    """(whole, streamed): audio -> the model's mouth opening, run whole (windowed past the
    predictor's window) or through `Streamer` (its default geometry, fed 0.1 s at a time; one
    streamer over the predictor's model, reset for each clip)."""
    from voiceemo_jax.inference.streaming import Streamer

    streamer = Streamer(predictor.model, level=LEVEL, person=PERSON, **pauses.in_use(predictor))

    def whole(audio):
        return lip_sync.mouth_opening(predictor.predict(audio, level=LEVEL, person=PERSON).outputs)

    def streamed(audio):
        streamer.reset()
        hop = SAMPLE_RATE_HZ // 10
        frames = [streamer.feed(audio[i : i + hop]) for i in range(0, len(audio), hop)] + [streamer.finish()]
        return lip_sync.mouth_opening(np.concatenate(frames))

    return whole, streamed


def synthetic_figures(predictor_checkpoint: Path, corpus: Path, gates: dict[str, bool]) -> dict:
    """benchmarks/demo_quality.py's sets on the synthetic corpus; gates: `pauses.in_use`'s."""
    from benchmarks import demo_quality

    with_json = Path(corpus) / ".real_speech_demo_quality.json"
    flags = [f"--{'' if on else 'no-'}{name.replace('_', '-')}" for name, on in gates.items()]
    try:
        demo_quality.main(
            ["--corpus", str(corpus), "--checkpoint", str(predictor_checkpoint), *flags, "--json", str(with_json)]
        )
        return json.loads(with_json.read_text())["sets"]
    finally:
        with_json.unlink(missing_ok=True)


def table(results: dict) -> str:
    rows = ["| lip sync set | clips | signal | opening r | AUC open vs p/b/m | AUC open vs m |",
            "|---|---:|---|---:|---:|---:|"]  # fmt: skip
    for name, s in results["lip_sync"].items():
        for signal in ("model", "loudness", "ceiling"):
            m = s[signal]
            rows.append(f"| {name} | {s['clips']} | {signal} | {m['correlation']:.3f} | "
                        f"{m['auc_open_vs_bilabial']:.3f} | {m['auc_open_vs_m']:.3f} |")  # fmt: skip
    rows += ["", "| lip sync set | signal - loudness (95% interval) | opening r | AUC open vs p/b/m | AUC open vs m |",
             "|---|---|---:|---:|---:|"]  # fmt: skip
    for name, s in results["lip_sync"].items():
        for signal, intervals in s.get("minus_loudness95", {}).items():
            cells = " | ".join(f"{low:+.3f} to {high:+.3f}" for low, high in intervals.values())
            rows.append(f"| {name} | {signal} | {cells} |")
    rows += ["", "| emotion set | clips | 7-class accuracy | 95% interval |", "|---|---:|---:|---:|"]
    for name, s in results["emotion"].items():
        low, high = s["interval95"]
        rows.append(f"| {name} | {s['clips']} | {s['accuracy']:.1%} | {low:.1%}-{high:.1%} |")
    if "pauses" in results:
        p = results["pauses"]
        rows += ["", "| where nobody speaks | mouth opening: whole clip | streamed |", "|---|---:|---:|",
                 f"| silent clip (3 s) | {p['silent clip (3 s)']:.3f} | |",
                 f"| (speech, for scale) | {p['speech (whole clip)']:.3f} | |"]  # fmt: skip
        for name in PAUSE_NOISE_DBFS:
            m = p[f"pause, {name}"]
            rows.append(f"| {p['pause_seconds']:g} s pause, {name} | {m['whole clip']:.3f} | {m['streamed']:.3f} |")
    if "synthetic" in results:
        rows += ["", "| synthetic set | clips | mouth MAE | jawOpen r | emotion |", "|---|---:|---:|---:|---:|"]
        for name, s in results["synthetic"].items():
            rows.append(f"| {name} | {s['clips']} | {s['mouth_mae']['model']:.4f} | "
                        f"{s['jaw_open_correlation']:.3f} | {s['emotion_accuracy']:.1%} |")  # fmt: skip
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = results_parser(__doc__)
    parser.add_argument("--checkpoint", type=Path, default=DEMO_MODEL, help="model (default: the shipped demo model)")
    parser.add_argument("--data", required=True, type=Path, help="the real-speech folder (corpora with index.tsv)")
    parser.add_argument("--corpus", type=Path, help="a `voiceemo data synth` corpus: add the synthetic-corpus figures")
    parser.add_argument("--arctic-speakers", nargs="*", default=list(held.HELD_OUT_ARCTIC_SPEAKERS),
                        help="held-out ARCTIC speakers for lip sync through the aligner (none: skip)")  # fmt: skip
    parser.add_argument("--max-clips", type=int, default=None, help="at most this many clips per lip-sync set")
    pauses.add_argument(parser)
    args = parser.parse_args(argv)
    try:
        for corpus in ("ljspeech", "ravdess", "tess") + (("cmu_arctic",) if args.arctic_speakers else ()):
            if not (args.data / corpus / "index.tsv").is_file():
                raise UserError(f"--data {args.data}: no {corpus}/index.tsv")
        bad = sorted(set(args.arctic_speakers) - set(held.HELD_OUT_ARCTIC_SPEAKERS))
        if bad:
            raise UserError(f"--arctic-speakers {bad} are trained on; held out: {list(held.HELD_OUT_ARCTIC_SPEAKERS)}")
        neutral = neutral_recording(args.data)
        start = time.perf_counter()
        predictor = arkit_predictor(args.checkpoint, "--checkpoint", **pauses.requested(args))
    except UserError as error:
        print(f"real_speech: error: {error}", file=sys.stderr)
        return 2

    results = {"checkpoint": shown_path(args.checkpoint), "level": LEVEL, "person": PERSON,
               **pauses.in_use(predictor), "lip_sync": {}}  # fmt: skip
    clips = ljspeech_clips(args.data, args.max_clips)
    lj_audio = [a for a, _ in clips]
    predictions = predict_all(predictor, lj_audio)
    results["lip_sync"]["LJSpeech (TextGrid phones)"] = lip_sync_set(predictor, clips, predictions)
    # A diagnostic, not the measure: the reduced vowel (AH0) is no open vowel (OPEN_VOWELS's "ah").
    schwa_clips = [
        (audio, phones) for (audio, _), phones in zip(clips, ljspeech_phones(args.data, args.max_clips, schwa=True))
    ]
    results["lip_sync"]["LJSpeech, AH0 as schwa"] = lip_sync_set(predictor, schwa_clips, predictions)
    # A diagnostic too: the emotion from one held-out neutral recording, not from each clip.
    neutral_predictions = predict_all(predictor, lj_audio, load(neutral.path))
    results["lip_sync"]["LJSpeech, neutral emotion audio"] = {
        **lip_sync_set(predictor, clips, neutral_predictions),
        "emotion_audio": neutral.path.name,
    }
    # Streamed (`voiceemo stream`'s 4 s windows, each normalised and read for emotion alone).
    whole, streamed = model_openings(predictor)
    results["lip_sync"]["LJSpeech, streamed"] = opening_scores(clips, [streamed(audio) for audio in lj_audio])
    print("lip sync: LJSpeech done", file=sys.stderr)
    for speaker in args.arctic_speakers:  # one set each: slt's voice is also one of festival's
        clips, failed = arctic_clips(args.data, [speaker], args.max_clips)
        name = f"ARCTIC {speaker} (aligner phones)"
        results["lip_sync"][name] = {**lip_sync_set(predictor, clips), "alignment_failed": failed}
        print(f"lip sync: {name} done ({len(failed)} not aligned)", file=sys.stderr)
    results["emotion"] = {
        name: emotion_set(predictor, chosen) for name, chosen in emotion_recordings(args.data).items()
    }
    results["pauses"] = pause_figures(whole, streamed, min(lj_audio, key=len))
    if args.corpus:
        results["synthetic"] = synthetic_figures(args.checkpoint, args.corpus, pauses.in_use(predictor))
    results["seconds"] = round(time.perf_counter() - start, 1)
    return print_and_write(results, table(results), args.json)


if __name__ == "__main__":
    sys.exit(main())
