"""Benchmarks: speed against the PyTorch reference, training, input pipeline, long audio, demo quality."""

import argparse
import json
import sys
from pathlib import Path


def shown_path(path) -> str:
    """A path as results files record it: relative to the repository when inside it (no
    machine-specific prefix), else just its name."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return Path(path).name


def results_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's argument parser: the first paragraph of its docstring `doc` as the description,
    and `--json OUT` for its results file."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser


def arkit_predictor(checkpoint, flag: str, **gates):
    """The `Predictor` of a checkpoint whose outputs are the 52 ARKit coefficients (the mouth
    figures read them). Raises UserError naming `flag` for a vertex model or a bad folder.
    gates: `rest_in_pauses`, `close_in_dips` (inference/pauses.py; `pauses.requested(args)`); None or
    left out: as the checkpoint says."""
    from voiceemo_jax.arkit import NUM_BLENDSHAPES
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.inference.predictor import Predictor

    predictor = Predictor.from_checkpoint(checkpoint, **gates)
    if predictor.output_dim != NUM_BLENDSHAPES:
        raise UserError(
            f"{flag} {checkpoint}: the model outputs {predictor.output_dim} values per frame, not the "
            f"{NUM_BLENDSHAPES} ARKit coefficients this benchmark scores"
        )
    return predictor


def print_and_write(results: dict, table: str, json_path: Path | None) -> int:
    """A result-writing benchmark's ending: its table printed, its results written to `--json`
    (atomically, parent folders made) where given; exit status 0."""
    print(table)
    if json_path:
        from voiceemo_jax.atomic_files import write_text

        write_text(json_path, json.dumps(results, indent=2) + "\n")
    return 0


def run_command(name: str, description: str, add_arguments, main_from_args, argv=None) -> int:
    """`python -m benchmarks.NAME` for a benchmark that is also a `voiceemo bench` subcommand:
    the same flags, and a bad value gives one error line and exit status 2."""
    from voiceemo_jax.errors import UserError

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    try:
        return main_from_args(parser.parse_args(argv))
    except UserError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
