"""`voiceemo data {build, inspect, synth}`: dataset folders -> TFRecords, and a look inside.

Only argparse at module scope (so `voiceemo --help` stays instant); TensorFlow and the
builders are imported inside the handlers.
"""

from __future__ import annotations

import argparse

DATASETS = ("ravdess", "mead", "vocaset", "synth", "speech")
DEFAULT_SHARD_MB = 32.0  # the builder's default, repeated to keep this module import-light
DEFAULT_MIN_SECONDS = 0.045  # 720 samples: clips.MIN_AUDIO_SAMPLES, the model's shortest input
DEFAULT_FRAME_TOLERANCE = 3


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "data",
        help="build datasets into TFRecords, inspect them, synthesise the offline corpus",
        description="Dataset tools: `build` raw dataset folders into sharded TFRecords, `inspect` a build, "
        "`synth` the offline synthetic corpus.",
    )
    data_subparsers = parser.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    _register_build(data_subparsers)
    _register_inspect(data_subparsers)
    from data_pipelines.sources.synth.command import register as register_synth

    register_synth(data_subparsers)
    return parser


def _register_build(data_subparsers) -> None:
    parser = data_subparsers.add_parser(
        "build",
        help="build a dataset folder into sharded TFRecords (tensorflow-datasets format)",
        description=(
            "Build RAVDESS, MEAD, VOCASET, the synthetic corpus or real recordings with transcripts (speech) "
            "into sharded TFRecords under OUT: "
            "OUT/<name>/<version>/ (tfds shards, features, metadata with the label vocabularies, clip index) "
            "and OUT/summary.json (records per split, skipped files with reasons). Audio becomes 16 kHz mono, "
            "targets 30 fps. Building happens in a temporary folder that replaces OUT only when complete, so "
            "a re-run never mixes two builds. Examples:\n"
            "  voiceemo data build --dataset ravdess --audio-root RAVDESS --targets 3DETF --out OUT\n"
            "  voiceemo data build --dataset mead --audio-root MEAD --targets MEAD_ARKIT --out OUT\n"
            "  voiceemo data build --dataset vocaset --root VOCASET --out OUT\n"
            "  voiceemo data build --dataset synth --root SYNTH --out OUT\n"
            "  voiceemo data build --dataset speech --root DIR [--root DIR2 ...] --out OUT   "
            "(DIR/index.tsv: file, speaker, text[, emotion, level]; targets by offline forced alignment)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--out", required=True, metavar="OUT", help="output folder (replaced if a previous build)")
    parser.add_argument("--audio-root", metavar="DIR", help="ravdess: folder of Actor_XX/; mead: folder of actors")
    parser.add_argument("--targets", metavar="DIR", help="ravdess, mead: folder of [T, 52] 30 fps .npy targets")
    parser.add_argument(
        "--root",
        metavar="DIR",
        action="append",
        help="vocaset: FaceFormer-layout folder; synth: corpus folder; speech: folder with index.tsv "
        "(repeat to build several corpora into one, speakers then named ROOTNAME/SPEAKER)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="speech: alignment processes (default: one per core)"
    )
    parser.add_argument(
        "--validation-speakers",
        "--validation-actors",
        dest="validation_speakers",
        metavar="LIST",
        help="comma-separated speakers for validation (ravdess default 21,22; mead: per gender the "
        "second-last actor; vocaset: the standard two); '' for none",
    )
    parser.add_argument(
        "--test-speakers",
        "--test-actors",
        dest="test_speakers",
        metavar="LIST",
        help="comma-separated speakers for test (ravdess default 23,24; mead: per gender the last actor; "
        "vocaset: the standard two); everyone else trains",
    )
    parser.add_argument("--strict", action="store_true", help="fail on the first file that would be skipped")
    parser.add_argument(
        "--shard-mb",
        type=float,
        default=DEFAULT_SHARD_MB,
        metavar="MB",
        help=f"largest shard in MiB (default {DEFAULT_SHARD_MB:g}); smaller gives more shards for more hosts",
    )
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=DEFAULT_MIN_SECONDS,
        metavar="S",
        help=f"skip clips shorter than this (default {DEFAULT_MIN_SECONDS}, the model's shortest input)",
    )
    parser.add_argument(
        "--frame-tolerance",
        type=int,
        default=DEFAULT_FRAME_TOLERANCE,
        metavar="N",
        help="target/audio length differences up to N frames are cropped or padded, larger ones skipped "
        f"(default {DEFAULT_FRAME_TOLERANCE})",
    )
    parser.set_defaults(handler=run_build)


def _register_inspect(data_subparsers) -> None:
    parser = data_subparsers.add_parser(
        "inspect",
        help="print a build's split sizes, label histograms and one batch's shapes",
        description="Print records per split, emotion/level/speaker histograms and the shapes of one training "
        "batch of a `voiceemo data build` output folder.",
    )
    parser.add_argument("out", metavar="OUT", help="the --out folder of `voiceemo data build`")
    parser.add_argument("--split", default=None, help="split to draw the batch from (default: the first non-empty)")
    parser.add_argument("--batch-size", type=int, default=2, metavar="N", help="batch size of the sample batch")
    parser.set_defaults(handler=run_inspect)


def _speaker_list(value: str | None, dataset: str):
    """'21,22' -> (21, 22) for RAVDESS ('Actor_21' also accepted); names for the others; None if not given."""
    from voiceemo_jax.errors import UserError

    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if dataset != "ravdess":
        return tuple(items)
    actors = []
    for item in items:
        number = item.removeprefix("Actor_")
        if not number.isdigit() or not 1 <= int(number) <= 24:
            raise UserError(f"RAVDESS actors are 1-24 (or Actor_01-Actor_24), got {item!r}")
        actors.append(int(number))
    return tuple(actors)


def _catalog(args):
    """Scans the dataset folders named by the flags -> (builder class, catalog)."""
    from voiceemo_jax.errors import UserError

    needs = {"ravdess": ("audio_root", "targets"), "mead": ("audio_root", "targets"), "vocaset": ("root",)}
    needs["synth"] = needs["speech"] = ("root",)
    flags = {"audio_root": "--audio-root", "targets": "--targets", "root": "--root"}
    for name in needs[args.dataset]:
        if getattr(args, name) is None:
            raise UserError(f"--dataset {args.dataset} needs {flags[name]}")
    for name in set(flags) - set(needs[args.dataset]):
        if getattr(args, name) is not None:
            raise UserError(f"--dataset {args.dataset} does not take {flags[name]}")
    validation = _speaker_list(args.validation_speakers, args.dataset)
    test = _speaker_list(args.test_speakers, args.dataset)
    if args.dataset == "speech":
        from data_pipelines.sources import speech

        catalog = speech.scan(
            args.root, validation_speakers=validation or (), test_speakers=test or (), strict=args.strict,
            workers=args.workers,
        )  # fmt: skip
        return speech.SpeechCorpus, catalog
    if args.root is not None and len(args.root) > 1:
        raise UserError(f"--dataset {args.dataset} takes one --root")
    args.root = args.root[0] if args.root else None
    split_kwargs = {}
    if args.dataset == "synth":
        if validation is not None or test is not None:
            raise UserError("--dataset synth splits by sentence and held-out voice (corpus.json); no speaker lists")
        from data_pipelines.sources import synth_corpus

        return synth_corpus.SynthCorpus, synth_corpus.scan(args.root)
    if args.dataset == "ravdess":
        from data_pipelines.sources import ravdess

        names = ("validation_actors", "test_actors")
        defaults = (ravdess.DEFAULT_VALIDATION_ACTORS, ravdess.DEFAULT_TEST_ACTORS)
        for name, value, default in zip(names, (validation, test), defaults):
            split_kwargs[name] = default if value is None else value
        return ravdess.Ravdess, ravdess.scan(args.audio_root, args.targets, **split_kwargs)
    if args.dataset == "mead":
        from data_pipelines.sources import mead

        return mead.Mead, mead.scan(args.audio_root, args.targets, validation_actors=validation, test_actors=test)
    from data_pipelines.sources import vocaset

    split_kwargs = {
        "validation_subjects": vocaset.VALIDATION_SUBJECTS if validation is None else validation,
        "test_subjects": vocaset.TEST_SUBJECTS if test is None else test,
    }
    return vocaset.Vocaset, vocaset.scan(args.root, **split_kwargs)


def run_build(args: argparse.Namespace) -> int:
    from voiceemo_jax.errors import UserError

    if args.min_seconds < 0 or args.frame_tolerance < 0:
        raise UserError("--min-seconds and --frame-tolerance must be >= 0")
    builder_cls, catalog = _catalog(args)
    from data_pipelines.records import builder
    from data_pipelines.records.schema import SUMMARY_FILE
    from voiceemo_jax.timebase import SAMPLE_RATE_HZ

    options = {
        key: getattr(args, key)
        for key in ("audio_root", "targets", "root", "validation_speakers", "test_speakers", "strict", "shard_mb")
    }
    options.update(min_seconds=args.min_seconds, frame_tolerance=args.frame_tolerance)
    summary = builder.build_dataset(
        builder_cls,
        catalog,
        args.out,
        strict=args.strict,
        shard_mb=args.shard_mb,
        min_samples=max(1, int(round(args.min_seconds * SAMPLE_RATE_HZ))),
        frame_tolerance=args.frame_tolerance,
        options=options,
    )
    print(f"{summary['dataset']} {summary['version']}: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()))
    skipped = summary["skipped"]
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for entry in skipped[:10]:
            print(f"  {entry['path']}: {entry['reason']}")
        if len(skipped) > 10:
            print(f"  ... and {len(skipped) - 10} more")
    if summary["excluded"]:
        print(f"left out {len(summary['excluded'])} file(s) outside the splits (listed under 'excluded')")
    print(f"wrote {args.out}/{summary['builder_dir']} and {args.out}/{SUMMARY_FILE}")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from data_pipelines import inspection

    print(inspection.describe(args.out, split=args.split, batch_size=args.batch_size))
    return 0
