"""`voiceemo eval`: a checkpoint on a split of a built dataset -> REPORT_DIR/report.json + PNG plots."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on a dataset split (LVE/EVE/FDD, coefficient errors, emotion accuracy)",
        description=(
            "Runs the model on every clip of SPLIT of a `voiceemo data build` output and writes "
            "REPORT_DIR/report.json and PNG plots. Blendshape datasets: MAE/MSE overall, per group "
            "(jaw+mouth, eyes, brows, cheeks+nose) and per channel, per-channel Pearson r, and LVE / EVE / "
            "FDD on a rig's vertices (the bundled head, or --rig). Vertex datasets (VOCASET): offset "
            "MAE/MSE and LVE / EVE / FDD on the dataset's vertices with your region index files "
            "(FLAME's region masks). Emotion accuracy and confusion matrix over clips whose emotion is "
            "one of the model's labels. Raw model outputs are evaluated (no smoothing or blinks). "
            "With --face-classifier: the emotion a face classifier reads from the generated animations, "
            "beside its accuracy on the ground truth (the ceiling)."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help="VoiceEmo-JAX checkpoint folder")
    parser.add_argument("--data", required=True, metavar="DIR", help="the --out folder of `voiceemo data build`")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument(
        "--rig",
        metavar="FILE",
        help="blendshape datasets: a .glb/.gltf head with ARKit-named morph targets to measure LVE/EVE/FDD on "
        "(default: the bundled procedural head; regions are derived from its mouth/eye/brow shapes)",
    )
    index_help = "vertex index file (.txt with comma/space separated ints as FaceFormer ships, .npy, or .json)"
    parser.add_argument("--lip-mask", metavar="FILE", help=f"lip vertices for LVE: {index_help}")
    parser.add_argument("--eye-mask", metavar="FILE", help=f"eye + forehead vertices for EVE: {index_help}")
    parser.add_argument("--upper-face-mask", metavar="FILE", help=f"upper-face vertices for FDD: {index_help}")
    parser.add_argument("--out", metavar="REPORT_DIR", help="report folder (default: eval_<dataset>_<split>)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per model call (default 8)")
    parser.add_argument("--level", type=int, help="condition every clip on this level (default: each clip's label)")
    parser.add_argument("--person", type=int, help="condition every clip on this person (default: each clip's label)")
    parser.add_argument("--max-clips", type=int, help="evaluate only the first N clips of the split")
    parser.add_argument(
        "--face-classifier",
        metavar="DIR",
        help="face-emotion classifier folder (WORKDIR/face_classifier of `voiceemo train --config "
        "configs/face_emotion.py`): report the emotion it reads from the generated faces and from the ground truth",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    from voiceemo_jax.errors import UserError
    from voiceemo_jax.evaluation import report
    from voiceemo_jax.evaluation.evaluate import Evaluation, evaluate

    if args.max_clips is not None and args.max_clips < 1:
        raise UserError(f"--max-clips must be >= 1, got {args.max_clips}")
    if args.out and Path(args.out).exists() and not (Path(args.out) / "report.json").is_file():
        # Checked before the (long) run: write_report would refuse it at the end.
        raise UserError(f"--out {args.out} exists and is not an evaluation report folder")
    options = Evaluation(
        checkpoint=args.checkpoint,
        data_dir=args.data,
        split=args.split,
        rig=args.rig,
        lip_mask=args.lip_mask,
        eye_mask=args.eye_mask,
        upper_face_mask=args.upper_face_mask,
        batch_size=args.batch_size,
        level=args.level,
        person=args.person,
        max_clips=args.max_clips,
        progress=not args.no_progress,
        face_classifier=args.face_classifier,
    )
    result = evaluate(options)
    out = args.out or f"eval_{result.report['dataset']}_{args.split}"
    written = report.write_report(result, out)
    for line in report.summary_lines(result.report):
        print(line)
    print(f"wrote {out}/ ({', '.join(written)})")
    return 0
