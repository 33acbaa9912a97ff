"""Input pipeline throughput: triplets per second on one process, against what training consumes.

    python -m benchmarks.input_pipeline_bench [--train-triplets-per-second R] [--batch-size 8]

Generates a corpus in the synthetic corpus' layout (noise audio of realistic length,
2-5 s, 16 kHz; random [T, 52] targets), builds it with `voiceemo data build`'s builder,
then times the training iterator (triplet and single modes) and the evaluation
iterator after a warm-up. Prints a table and writes benchmarks/results/input_pipeline.json.

The consumption rate is what the training step eats (triplets/s = per-process batch /
step seconds). Pass the measured figure; without it the script compares with an
assumed 16 triplets/s (batch 8 at 0.5 s per step) and says so in the table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "input_pipeline.json"
ASSUMED_TRAIN_TRIPLETS_PER_SECOND = 16.0
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def write_corpus(root: Path, voices: int, sentences: int, seed: int = 0) -> int:
    """A synth-layout corpus: every voice x 7 emotions x levels 1-2 x sentences; returns the clip count."""
    import soundfile

    rng = np.random.default_rng(seed)
    clips = []
    for v in range(voices):
        for emotion in EMOTIONS:
            for level in (1, 2):
                for sentence in range(sentences):
                    seconds = rng.uniform(2.0, 5.0)
                    samples = int(seconds * 16_000)
                    rel = Path(f"voice{v}", emotion, f"level_{level}", f"{sentence:03d}")
                    for folder in ("wav", "targets", "phones"):
                        (root / folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    audio = (0.1 * rng.standard_normal(samples)).astype(np.float32)
                    soundfile.write(root / "wav" / f"{rel}.wav", audio, 16_000, subtype="PCM_16")
                    frames = -(-samples * 30 // 16_000)
                    np.save(root / "targets" / f"{rel}.npy", rng.random((frames, 52), dtype=np.float32))
                    (root / "phones" / f"{rel}.json").write_text("[]")
                    files = {"wav": f"wav/{rel}.wav", "target": f"targets/{rel}.npy", "phones": f"phones/{rel}.json"}
                    clips.append(
                        {**files, "voice": f"voice{v}", "emotion": emotion, "level": level, "sentence": sentence}
                    )
    corpus = {
        "name": "voiceemo-synth",
        "version": "1.0.0",
        "seed": seed,
        "sample_rate_hz": 16_000,
        "fps": 30,
        "emotions": list(EMOTIONS),
        "levels": [1, 2],
        "voices": [{"name": f"voice{v}", "held_out": False} for v in range(voices)],
        "sentences": [{"id": s, "text": f"sentence {s}", "split": "train"} for s in range(sentences)],
        "clips": clips,
    }
    (root / "corpus.json").write_text(json.dumps(corpus))
    return len(clips)


def time_epochs(make, epochs: int) -> tuple[float, int, float]:
    """(seconds for `epochs` whole epochs from a fresh iterator, items delivered, seconds to the first batch).

    Whole epochs, because records are read a window of speakers at a time: timing a few
    batches after a warm-up would time only the assembly of batches from memory.
    """
    start = time.perf_counter()
    iterator = make()
    num_batches = sum(iterator.batches_per_epoch(e) for e in range(epochs))
    batch = next(iterator)
    first = time.perf_counter() - start
    items = next(iter(batch.values()))["audio"].shape[0] * num_batches
    for _ in range(num_batches - 1):
        next(iterator)
    return time.perf_counter() - start, items, first


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--train-triplets-per-second",
        type=float,
        default=None,
        help=f"measured training consumption (default: an assumed {ASSUMED_TRAIN_TRIPLETS_PER_SECOND:g}, flagged)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--voices", type=int, default=8, help="speakers (read 4 at a time)")
    parser.add_argument("--sentences", type=int, default=4)
    parser.add_argument("--workdir", default=None, help="keep the corpus and build here (default: a temp folder)")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)

    from data_pipelines import tf_setup
    from data_pipelines.loading.input_pipeline import make_eval_iterator, make_iterator
    from data_pipelines.records import builder
    from data_pipelines.sources import synth_corpus

    tf = tf_setup.tensorflow()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="input_pipeline_bench."))
    try:
        corpus = workdir / "corpus"
        if corpus.exists():
            shutil.rmtree(corpus)
        start = time.perf_counter()
        num_clips = write_corpus(corpus, args.voices, args.sentences)
        corpus_seconds = time.perf_counter() - start
        start = time.perf_counter()
        summary = builder.build_dataset(
            synth_corpus.SynthCorpus, synth_corpus.scan(corpus), workdir / "out", shard_mb=8.0
        )
        build_seconds = time.perf_counter() - start
        out = workdir / "out"
        common = dict(batch_size=args.batch_size, seed=0, process_index=0, process_count=1)
        rows = []
        for label, mode in (("train triplets", "triplet"), ("train single", "single")):
            seconds, items, first = time_epochs(lambda mode=mode: make_iterator(out, "train", mode=mode, **common), 2)
            rows.append(
                {
                    "pipeline": label,
                    "items_per_second": items / seconds,
                    "ms_per_batch": 1000 * seconds * args.batch_size / items,
                    "first_batch_seconds": first,
                }
            )
        # Restoring mid-epoch: re-plan the epoch, re-read the windows still needed.
        iterator = make_iterator(out, "train", mode="triplet", **common)
        for _ in range(iterator.batches_per_epoch() // 2):
            next(iterator)
        restored = make_iterator(out, "train", mode="triplet", **common)
        start = time.perf_counter()
        restored.set_state(iterator.get_state())
        next(restored)
        restore_seconds = time.perf_counter() - start
        start = time.perf_counter()
        clips = sum(int(b["x"]["valid"].sum()) for b in make_eval_iterator(out, "train", batch_size=args.batch_size))
        eval_seconds = time.perf_counter() - start
        rows.append(
            {
                "pipeline": "eval (all clips once)",
                "items_per_second": clips / eval_seconds,
                "ms_per_batch": 1000 * eval_seconds / -(-clips // args.batch_size),
                "first_batch_seconds": None,
            }
        )
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    assumed = args.train_triplets_per_second is None
    consumption = ASSUMED_TRAIN_TRIPLETS_PER_SECOND if assumed else args.train_triplets_per_second
    triplets_per_second = rows[0]["items_per_second"]
    result = {
        "benchmark": "input_pipeline",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "platform": platform.platform(),
        },
        "fixture": {
            "clips": num_clips,
            "seconds_per_clip": "uniform 2-5",
            "voices": args.voices,
            "sentences": args.sentences,
            "records": summary["splits"]["train"],
            "corpus_write_seconds": round(corpus_seconds, 2),
            "build_seconds": round(build_seconds, 2),
        },
        "batch_size": args.batch_size,
        "rows": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()} for row in rows],
        "restore_to_next_batch_seconds": round(restore_seconds, 3),
        "train_triplets_per_second": consumption,
        "train_rate_source": "assumed default (no measurement passed)" if assumed else "--train-triplets-per-second",
        "headroom": round(triplets_per_second / consumption, 2),
    }
    print(f"input pipeline, 1 process, {os.cpu_count()} CPUs, batch {args.batch_size}, {num_clips} clips of 2-5 s")
    print(f"(corpus written in {corpus_seconds:.1f} s, built in {build_seconds:.1f} s; rates over 2 whole epochs)")
    print(f"{'pipeline':<24}{'items/s':>10}{'ms/batch':>10}{'first batch s':>15}")
    for row in rows:
        first = "" if row["first_batch_seconds"] is None else f"{row['first_batch_seconds']:.2f}"
        print(f"{row['pipeline']:<24}{row['items_per_second']:>10.1f}{row['ms_per_batch']:>10.1f}{first:>15}")
    print(f"restore (set_state + next batch): {restore_seconds:.2f} s")
    note = " (ASSUMED: pass --train-triplets-per-second with a measured rate)" if assumed else ""
    print(f"training consumes {consumption:g} triplets/s{note}; pipeline headroom x{result['headroom']}")
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {results}")
    return result


if __name__ == "__main__":
    main()
