"""One inference in a fresh process: its wall time and its peak resident memory.

    python -m benchmarks.process_probe --side {jax,jax-windowed,torch} --size release --seconds 60 [--batch 8]

Memory is measured per process because allocators keep what they once held: in a process
that has already run a larger call, a later call's rise in resident memory reads near 0
(PyTorch's column did, in the first inference table). Here each side gets its own process:
it builds its model, prepares (JAX: compiles the program ahead of time without running it;
the windowed path: predicts a 21 s clip, which compiles its window encoder and decoder
block; PyTorch: nothing to prepare), then resets the kernel's high-water mark
(`/proc/self/clear_refs`, Linux) and runs once. Reported: the peak resident memory during
that first run (`peak_mib`, weights included), the resident memory just before it
(`loaded_mib`: weights, runtime, compiled code) and the difference (`peak_rise_mib`: the
run's own working memory). The time (`run_seconds`) is the median of up to `--repeats`
further runs (as many as fit in 120 s; the first run's time when none fit), since a
first run also pays for page faults and thread start-up. The last line of stdout is that JSON object; `probe()` runs a
child and returns it.

Sides: `jax` is the whole clip in one pass (`Predictor.predict_batch`, as the release
computes it), `jax-windowed` is `voiceemo predict`'s default path (windows beyond 20 s;
batch 1 only), `torch` is the PyTorch reference (the release's structure, clips one at a
time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from voiceemo_jax.timebase import SAMPLE_RATE_HZ

SIDES = ("jax", "jax-windowed", "torch")
WINDOWED_WARM_UP_SECONDS = 21.0  # one more than the 20 s window: a windowed warm-up clip


def memory_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                values[line.split(":")[0]] = int(line.split()[1]) * 1024
    return values


def reset_peak() -> None:
    """Sets this process's VmHWM to its current RSS (Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _prepare_jax(size: str, clips, windowed: bool):
    """-> (a function that runs the clips, seconds spent preparing)."""
    import jax.numpy as jnp

    from voiceemo_jax.inference.predictor import Predictor, _forward, pad_batch
    from voiceemo_jax.testing.random_models import random_model
    from voiceemo_jax.testing.signals import speech_like

    model = random_model(size, seed=0)
    start = time.perf_counter()
    if windowed:
        predictor = Predictor(model)
        predictor.predict(speech_like(int(WINDOWED_WARM_UP_SECONDS * SAMPLE_RATE_HZ), seed=99))
        return (lambda: predictor.predict(clips[0]).outputs), time.perf_counter() - start
    predictor = Predictor(model, window=None)
    audio, lengths = pad_batch(clips, predictor.bucket_samples)
    ones = jnp.ones(len(clips), jnp.int32)
    args = (jnp.asarray(audio), jnp.asarray(lengths), ones, ones, jnp.asarray(audio), jnp.asarray(lengths))
    compiled = _forward.lower(predictor.graphdef, predictor.params, *args).compile()

    def run():
        outputs, _ = compiled(predictor.params, *args)
        return outputs.block_until_ready()

    return run, time.perf_counter() - start


def _prepare_torch(size: str, clips):
    import torch

    from voiceemo_jax.models import presets, sequence_ops
    from voiceemo_jax.testing.torch_reference import build_reference

    torch.set_num_threads(os.cpu_count() or 1)
    frames = max(sequence_ops.frames_for(len(c)) for c in clips)
    reference = build_reference(presets.model_config(size), seed=0, max_seq_len=max(600, frames + 30))
    return (lambda: [reference(clip, 1, 1) for clip in clips]), 0.0


def run_probe(
    side: str, size: str, seconds: float, batch: int, repeats: int = 2, repeat_budget_s: float = 120.0
) -> dict:
    """In this process: prepare, reset the high-water mark, run once (memory), then up to
    `repeats` more runs while the time spent stays under `repeat_budget_s` (their median is
    `run_seconds`; with none, the first run's time)."""
    from voiceemo_jax.models import sequence_ops
    from voiceemo_jax.testing.signals import speech_like

    num_samples = int(round(seconds * SAMPLE_RATE_HZ))
    clips = [speech_like(num_samples, seed=i) for i in range(batch)]
    if side == "torch":
        run, prepare_seconds = _prepare_torch(size, clips)
    else:
        run, prepare_seconds = _prepare_jax(size, clips, windowed=side == "jax-windowed")
    reset_peak()
    loaded = memory_status()["VmRSS"]
    first_run_seconds = _timed(run)
    peak = memory_status()["VmHWM"]  # the first run's: later runs reuse what the allocator kept
    timed = []
    while len(timed) < repeats and first_run_seconds + sum(timed) < repeat_budget_s:
        timed.append(_timed(run))
    mib = 2**20
    return {
        "side": side, "size": size, "seconds": seconds, "batch": batch,
        "frames": sequence_ops.frames_for(num_samples),
        "run_seconds": statistics.median(timed) if timed else first_run_seconds, "warm_runs": len(timed),
        "first_run_seconds": first_run_seconds, "prepare_seconds": prepare_seconds,
        "loaded_mib": loaded / mib, "peak_mib": peak / mib, "peak_rise_mib": (peak - loaded) / mib,
    }  # fmt: skip


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def probe(
    side: str, size: str, seconds: float, batch: int = 1, repeats: int = 2, timeout_s: float | None = None
) -> dict:
    """Runs `run_probe` in a fresh Python process and returns its JSON object.

    A child that fails (out of memory, killed, timed out) gives {"error": "..."} with the
    reason, so that one impossible cell does not end a whole table."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    command = [sys.executable, "-m", "benchmarks.process_probe", "--side", side, "--size", size,
               "--seconds", str(seconds), "--batch", str(batch), "--repeats", str(repeats)]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout_s,
                                cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout_s:g} s"}
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        killed = result.returncode < 0 or result.returncode == 137
        return {"error": f"killed by signal {-result.returncode} (out of memory?)" if killed else tail}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", choices=SIDES, required=True)
    parser.add_argument("--size", default="release")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs after the first (within 120 s)")
    args = parser.parse_args(argv)
    if args.side == "jax-windowed" and (args.batch != 1 or args.seconds <= WINDOWED_WARM_UP_SECONDS - 1):
        parser.error("the windowed path predicts one clip at a time (--batch 1), longer than the 20 s window")
    print(json.dumps(run_probe(args.side, args.size, args.seconds, args.batch, args.repeats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
