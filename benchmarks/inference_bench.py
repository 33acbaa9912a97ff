"""Inference speed: VoiceEmo-JAX against the PyTorch reference, same weights, same machine, same run.

    voiceemo bench inference [--size release|tiny] [--seconds 2 10 60] [--batch-sizes 1 8] [--json OUT]
    python -m benchmarks.inference_bench ...   (same flags)

Both sides hold identical random weights: the PyTorch reference (`voiceemo_jax.testing.torch_reference`,
the release's structure, which runs one clip at a time) is built first and its state dict is
converted into the JAX model with the release converter, so the benchmark also reports how far
the two outputs are apart. fp32 on both sides; PyTorch gets as many threads as XLA's CPU
client uses (every core). A batch of B clips is one padded `Predictor.predict_batch` call in
JAX and B consecutive reference calls in PyTorch (the release has no batch path).

Per configuration: one warm-up call each (the JAX one includes compilation, reported
separately as `compile_seconds`), then `repeats` interleaved timed calls (JAX, PyTorch, JAX, ...),
reporting medians. Peak memory is measured apart, one fresh process per side and
configuration (`benchmarks/process_probe.py`): the resident-memory rise of one call over the
loaded, compiled model (`*_peak_mib`), and the process's whole peak (`*_peak_total_mib`,
weights included). FLOPs come from XLA's cost analysis of the JAX program, lowered with
whole (unblocked) attention because XLA counts a loop body once; FLOP/s of both sides use
that count, and are compared with this machine's matmul throughput measured in the same
run (a 2048^3 fp32 matmul in JAX and in PyTorch, best of its start and its end: a shared
machine's slow moment at the start would otherwise inflate the fractions).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from benchmarks import process_probe, run_command
from voiceemo_jax.testing.flops import predictor_gflop
from voiceemo_jax.testing.signals import speech_like
from voiceemo_jax.timebase import SAMPLE_RATE_HZ


@dataclasses.dataclass
class Row:
    size: str
    seconds: float
    batch: int
    frames: int  # output frames per clip: ceil(seconds * 30)
    compile_seconds: float
    jax_seconds: float  # median wall time of one batch
    torch_seconds: float
    ratio: float  # torch_seconds / jax_seconds: > 1 means JAX is faster
    jax_rtf: float  # real-time factor: seconds of audio processed per wall second
    torch_rtf: float
    jax_peak_mib: float | None  # working memory of one call (fresh process; None: not measured)
    torch_peak_mib: float | None
    jax_peak_total_mib: float | None  # the process's peak resident memory, weights included
    torch_peak_total_mib: float | None
    gflop: float  # per batch, from XLA's cost analysis
    jax_gflops: float
    torch_gflops: float
    max_abs_difference: float  # JAX vs PyTorch outputs, first clip
    # Achieved FLOP/s over the matmul FLOP/s; set by run() once the run's matmul rate is known.
    jax_fraction_of_matmul: float | None = None


def matmul_gflops(n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """This machine's fp32 matmul throughput in JAX and PyTorch (best of `repeats`)."""
    import jax
    import jax.numpy as jnp
    import torch

    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n), np.float32))
    matmul = jax.jit(jnp.matmul)
    matmul(a, a).block_until_ready()
    best_jax = min(_timed(lambda: matmul(a, a).block_until_ready()) for _ in range(repeats))
    t = torch.from_numpy(np.array(a))  # a writable copy
    torch.matmul(t, t)
    best_torch = min(_timed(lambda: torch.matmul(t, t)) for _ in range(repeats))
    flop = 2.0 * n**3
    return {"jax": flop / best_jax / 1e9, "torch": flop / best_torch / 1e9}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_models(size: str, seed: int = 0, max_seconds: float = 20.0):
    """(Predictor, torch reference) with identical random weights; the reference's bias
    table covers `max_seconds` of audio."""
    import torch

    from voiceemo_jax.conversion.emotalk import build_with_weights, release_module_path
    from voiceemo_jax.inference.predictor import Predictor
    from voiceemo_jax.models import presets
    from voiceemo_jax.testing.torch_reference import build_reference

    config = presets.model_config(size)
    reference = build_reference(config, seed=seed, max_seq_len=max(600, int(max_seconds * 30) + 30))
    with torch.no_grad():
        state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    model = build_with_weights(config, state, release_module_path, what=f"random {size} reference")
    del state
    return Predictor(model), reference


def bench_one(predictor, reference, size: str, seconds: float, batch: int, repeats: int, memory: bool = True) -> Row:
    from voiceemo_jax.models import sequence_ops

    num_samples = int(round(seconds * SAMPLE_RATE_HZ))
    clips = [speech_like(num_samples, seed=i) for i in range(batch)]
    levels, persons = [1] * batch, [1] * batch

    def run_jax():
        return predictor.predict_batch(clips, levels=levels, persons=persons)

    def run_torch():
        return [reference(clip, 1, 1) for clip in clips]

    compile_seconds = _timed(run_jax)  # first call: trace + compile + run
    ours = run_jax()
    theirs = run_torch()
    difference = float(np.abs(ours[0].outputs - theirs[0][0]).max())
    jax_times, torch_times = [], []
    for _ in range(repeats):
        jax_times.append(_timed(run_jax))
        torch_times.append(_timed(run_torch))
    jax_s, torch_s = statistics.median(jax_times), statistics.median(torch_times)
    gflop = predictor_gflop(predictor, clips)
    peaks = {"jax": {}, "torch": {}}
    if memory:  # fresh processes, one at a time: nothing else runs beside the timed calls above
        for side in peaks:
            peaks[side] = process_probe.probe(side, size, seconds, batch, repeats=0)
            if "error" in peaks[side]:  # the timings stand; the memory cell stays empty
                print(f"memory probe ({side}, {seconds:g} s x {batch}): {peaks[side]['error']}", file=sys.stderr)
    audio_seconds = seconds * batch
    return Row(
        size=size, seconds=seconds, batch=batch, frames=sequence_ops.frames_for(num_samples),
        compile_seconds=compile_seconds - jax_s, jax_seconds=jax_s, torch_seconds=torch_s, ratio=torch_s / jax_s,
        jax_rtf=audio_seconds / jax_s, torch_rtf=audio_seconds / torch_s,
        jax_peak_mib=peaks["jax"].get("peak_rise_mib"), torch_peak_mib=peaks["torch"].get("peak_rise_mib"),
        jax_peak_total_mib=peaks["jax"].get("peak_mib"), torch_peak_total_mib=peaks["torch"].get("peak_mib"),
        gflop=gflop, jax_gflops=gflop / jax_s, torch_gflops=gflop / torch_s,
        max_abs_difference=difference,
    )  # fmt: skip


def machine_info(threads: int) -> dict:
    import jax
    import torch

    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "torch": torch.__version__,
        "devices": [str(d) for d in jax.devices()],
    }


def _memory(call_mib: float | None, total_mib: float | None) -> str:
    return "-" if call_mib is None else f"{call_mib:.0f} / {total_mib:.0f}"


def format_table(rows: list[Row], matmul: dict) -> str:
    header = (
        "| size | audio s | batch | frames | JAX s | PyTorch s | PyTorch/JAX | JAX RTF | PyTorch RTF | compile s | "
        "JAX MiB call / process | PyTorch MiB call / process | GFLOP | JAX GFLOP/s | PyTorch GFLOP/s | max |diff| |"
    )
    lines = [header, "|" + " --- |" * 16]
    for r in rows:
        lines.append(
            f"| {r.size} | {r.seconds:g} | {r.batch} | {r.frames} | {r.jax_seconds:.3f} | {r.torch_seconds:.3f} | "
            f"{r.ratio:.2f}x | {r.jax_rtf:.1f} | {r.torch_rtf:.1f} | {r.compile_seconds:.1f} | "
            f"{_memory(r.jax_peak_mib, r.jax_peak_total_mib)} | {_memory(r.torch_peak_mib, r.torch_peak_total_mib)} | "
            f"{r.gflop:.1f} | {r.jax_gflops:.1f} | {r.torch_gflops:.1f} | {r.max_abs_difference:.1e} |"
        )
    lines.append(
        f"\nmatmul 2048^3 fp32 on this machine: JAX {matmul['jax']:.1f} GFLOP/s, PyTorch {matmul['torch']:.1f} GFLOP/s"
        "\nmemory: the rise of one call over the loaded model / the process's peak, each side in a fresh process"
    )
    return "\n".join(lines)


def run(
    size: str = "release", seconds: list[float] = (10.0,), batch_sizes: list[int] = (1, 8), repeats: int = 3,
    json_path: str | None = None, progress: bool = True, memory: bool = True,
) -> dict:  # fmt: skip
    import torch
    from tqdm import tqdm

    from voiceemo_jax.atomic_files import write_text

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    matmul = matmul_gflops()
    predictor, reference = build_models(size, max_seconds=max(seconds))
    rows = []
    configs = [(s, b) for s in seconds for b in batch_sizes]
    for s, b in tqdm(configs, desc=f"bench inference ({size})", unit="config", disable=not progress):
        rows.append(bench_one(predictor, reference, size, float(s), int(b), repeats, memory))
    at_end = matmul_gflops()
    matmul = {side: max(matmul[side], at_end[side]) for side in matmul}
    rows = [dataclasses.replace(r, jax_fraction_of_matmul=r.jax_gflops / matmul["jax"]) for r in rows]
    result = {
        "benchmark": "inference",
        "machine": machine_info(threads),
        "matmul_gflops": matmul,
        "repeats": repeats,
        "results": [dataclasses.asdict(r) for r in rows],
    }
    # Headline figures (the first configuration) at the top level, for scripts.
    result.update({k: dataclasses.asdict(rows[0])[k] for k in ("jax_seconds", "torch_seconds", "ratio", "frames")})
    print(format_table(rows, matmul), flush=True)
    if json_path:
        write_text(json_path, json.dumps(result, indent=2) + "\n")
        print(f"wrote {json_path}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("release", "tiny", "demo", "base"), default="release",
                        help="architecture: release = two wav2vec2-large encoders + decoder (default)")  # fmt: skip
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0], help="audio length(s) (default 10)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side and configuration (default 3)")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON here")
    parser.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the peak-memory measurement (one fresh process per side and configuration)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def validate(args) -> None:
    from voiceemo_jax.errors import UserError

    if any(s <= 0 for s in args.seconds):
        raise UserError("--seconds must be positive")
    if any(b < 1 for b in args.batch_sizes) or args.repeats < 1:
        raise UserError("--batch-sizes and --repeats must be at least 1")


def main_from_args(args) -> int:
    validate(args)
    run(
        args.size,
        args.seconds,
        args.batch_sizes,
        args.repeats,
        args.json,
        progress=not args.no_progress,
        memory=not args.no_memory,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.inference_bench`: `voiceemo bench inference` (bad flags: one line, exit 2)."""
    return run_command("inference_bench", __doc__, add_arguments, main_from_args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
