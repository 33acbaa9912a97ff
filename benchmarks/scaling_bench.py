"""How inference time and memory grow with audio length, JAX against the PyTorch reference.

    voiceemo bench scaling [--size release] [--seconds 2 10 30 60 120 300 600] [--json OUT]
    python -m benchmarks.scaling_bench ...   (same flags)

Every cell is one fresh process (`benchmarks/process_probe.py`): it builds its model,
prepares (JAX compiles ahead of time; the time is reported apart), runs one clip of
speech-like audio once, and reports the wall time and the peak resident memory of that
run (weights included) and its rise over the loaded model. One run per cell: at these
lengths a run takes seconds to minutes, and the cells are meant to show growth.

Three paths:
- JAX, whole clip in one pass (what the release computes; attention is quadratic in length);
- JAX windowed, `voiceemo predict`'s default beyond 20 s (20 s windows, 3 s context; linear
  in length, bounded memory); shorter clips run whole, so those cells are the first column's;
- PyTorch, the release's structure, up to the release's own limit: its decoder bias table
  covers 5000 frames (166.7 s), so longer audio cannot run there at all.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from benchmarks import process_probe, run_command

RELEASE_MAX_FRAMES = 5000  # the release's 4 x 5000 x 5000 bias table (SPEC section 3)
DEFAULT_SECONDS = (2.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def cells_for(seconds: float) -> list[str]:
    """The sides that run at this length (see the module docstring)."""
    from voiceemo_jax.inference.predictor import DEFAULT_WINDOW
    from voiceemo_jax.models import sequence_ops

    sides = ["jax"]
    if seconds > DEFAULT_WINDOW.window_seconds:  # shorter clips run whole: the first column
        sides.append("jax-windowed")
    if sequence_ops.frames_for(int(round(seconds * 16000))) <= RELEASE_MAX_FRAMES:
        sides.append("torch")
    return sides


def run(size: str = "release", seconds=DEFAULT_SECONDS, json_path: str | None = None, progress: bool = True,
        timeout_s: float = 3600.0) -> dict:  # fmt: skip
    from tqdm import tqdm

    from voiceemo_jax.atomic_files import write_text

    jobs = [(s, side) for s in seconds for side in cells_for(s)]
    cells: dict[float, dict[str, dict]] = {s: {} for s in seconds}
    for s, side in tqdm(jobs, desc=f"bench scaling ({size})", unit="run", disable=not progress):
        cells[s][side] = process_probe.probe(side, size, s, 1, timeout_s=timeout_s)
    rows = [{"seconds": s, **cells[s]} for s in seconds]
    result = {"benchmark": "scaling", "size": size, "machine": _machine(), "rows": rows}
    print(format_table(rows), flush=True)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        write_text(Path(json_path), json.dumps(result, indent=2) + "\n")
        print(f"wrote {json_path}")
    return result


def _machine() -> dict:
    from benchmarks.inference_bench import machine_info

    return machine_info(os.cpu_count() or 1)


def _seconds(cell: dict | None) -> str:
    if cell is None:
        return "-"
    return f"error: {cell['error']}" if "error" in cell else f"{cell['run_seconds']:.2f}"


def _memory(cell: dict | None) -> str:
    if cell is None or "error" in cell:
        return "-"
    return f"{cell['peak_mib'] / 1024:.2f} (+{cell['peak_rise_mib'] / 1024:.2f})"


def format_table(rows: list[dict]) -> str:
    lines = [
        "| audio s | frames | JAX whole s | JAX windowed s | PyTorch s | PyTorch/JAX whole | JAX compile s | "
        "JAX whole GiB | JAX windowed GiB | PyTorch GiB |",
        "|" + " --- |" * 10,
    ]
    for row in rows:
        jax_cell, windowed, torch_cell = row.get("jax"), row.get("jax-windowed"), row.get("torch")
        frames = next((c["frames"] for c in (jax_cell, windowed, torch_cell) if c and "frames" in c), "-")
        ratio = "-"
        if jax_cell and torch_cell and "error" not in jax_cell and "error" not in torch_cell:
            ratio = f"{torch_cell['run_seconds'] / jax_cell['run_seconds']:.2f}x"
        compile_s = f"{jax_cell['prepare_seconds']:.1f}" if jax_cell and "error" not in jax_cell else "-"
        lines.append(
            f"| {row['seconds']:g} | {frames} | {_seconds(jax_cell)} | {_seconds(windowed)} | {_seconds(torch_cell)} | "
            f"{ratio} | {compile_s} | {_memory(jax_cell)} | {_memory(windowed)} | {_memory(torch_cell)} |"
        )
    lines.append(
        "\nGiB: the run's peak resident memory, weights included (+ its rise over the loaded model); "
        f"PyTorch stops at the release's {RELEASE_MAX_FRAMES}-frame limit; clips up to the 20 s window run whole"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("release", "tiny", "demo", "base"), default="release",
                        help="architecture (default release: two wav2vec2-large encoders + decoder)")  # fmt: skip
    parser.add_argument("--seconds", type=float, nargs="+", default=list(DEFAULT_SECONDS),
                        help="audio lengths (default 2 10 30 60 120 300 600)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run (default 3600)")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main_from_args(args) -> int:
    from voiceemo_jax.errors import UserError

    if any(s <= 0 for s in args.seconds) or args.timeout <= 0:
        raise UserError("--seconds and --timeout must be positive")
    run(args.size, args.seconds, args.json, progress=not args.no_progress, timeout_s=args.timeout)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.scaling_bench`: `voiceemo bench scaling` (bad flags: one line, exit 2)."""
    return run_command("scaling_bench", __doc__, add_arguments, main_from_args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
