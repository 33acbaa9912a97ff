"""The `voiceemo` console command: one parser, a subcommand per capability.

Each command module exposes `register(subparsers)`; it must import only argparse-level
things at module scope (so `voiceemo --help` is instant) and import jax, TensorFlow or
torch inside its handler. A handler returns an exit code (or None for 0) and raises
`UserError` for bad input, which is printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order of `voiceemo --help`.
COMMAND_MODULES = (
    "voiceemo_jax.commands.demo",
    "voiceemo_jax.commands.predict",
    "voiceemo_jax.commands.stream",
    "voiceemo_jax.commands.convert",
    "data_pipelines.cli",
    "export.cli",
    "voiceemo_jax.commands.train",
    "voiceemo_jax.commands.eval",
    "voiceemo_jax.commands.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voiceemo",
        description=(
            "VoiceEmo-JAX: speech to emotional 3D facial animation. Predicts 52 ARKit "
            "blendshape coefficients per frame at 30 fps (or FLAME vertex offsets) from a "
            "voice recording, converts released checkpoints, builds datasets, trains, "
            "evaluates and exports. Run `voiceemo COMMAND --help` for each command."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from voiceemo_jax.errors import UserError

    try:
        code = args.handler(args, extra) if getattr(args, "accepts_overrides", False) else args.handler(args)
    except UserError as error:
        print(f"voiceemo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"voiceemo {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
