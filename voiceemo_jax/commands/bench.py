"""`voiceemo bench inference`: JAX vs the PyTorch reference, printed as a table and written as JSON."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  voiceemo bench inference --size tiny --seconds 2 --json out/bench_tiny.json
  voiceemo bench inference --size release --seconds 2 10 60 --batch-sizes 1 8 \\
      --json benchmarks/results/inference_release_cpu.json

Needs the PyTorch reference: pip install -e '.[convert]' (torch, transformers).
"""

SCALING_EPILOG = """\
examples:
  voiceemo bench scaling --size tiny --seconds 2 30 --json out/scaling_tiny.json
  voiceemo bench scaling --size release --json benchmarks/results/scaling_release_cpu.json

Needs the PyTorch reference: pip install -e '.[convert]' (torch, transformers).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks against the PyTorch reference (inference speed, memory, FLOP/s)",
        description="Benchmarks run on this machine, side by side with the PyTorch reference.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="BENCHMARK")
    inference = kinds.add_parser(
        "inference",
        help="JAX vs PyTorch inference: wall time, real-time factor, peak memory, FLOP/s",
        description=(
            "Times the model in JAX and in the PyTorch reference with identical random weights (fp32, "
            "same thread count, interleaved runs after a warm-up; compile time reported separately), "
            "prints a table and optionally writes JSON with jax_seconds, torch_seconds, ratio "
            "(torch/jax) and frames for the first configuration, and every configuration under 'results'."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from benchmarks import inference_bench, scaling_bench

    inference_bench.add_arguments(inference)
    inference.set_defaults(handler=lambda args: _with_torch(inference_bench.main_from_args, args))
    scaling = kinds.add_parser(
        "scaling",
        help="time and memory against audio length (2 s ... 10 min): JAX whole, JAX windowed, PyTorch",
        description=(
            "Runs one clip per length and path, each in a fresh process: wall time, compile time, and the "
            "peak resident memory of the run (weights included) with its rise over the loaded model. Paths: "
            "JAX over the whole clip, JAX windowed (voiceemo predict's default beyond 20 s) and the PyTorch "
            "reference, which stops at the release's 5000-frame limit (166.7 s)."
        ),
        epilog=SCALING_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scaling_bench.add_arguments(scaling)
    scaling.set_defaults(handler=lambda args: _with_torch(scaling_bench.main_from_args, args))


def _with_torch(main_from_args, args) -> int:
    from voiceemo_jax.errors import UserError

    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError("the PyTorch reference needs torch: pip install -e '.[convert]'") from None
    return main_from_args(args)
