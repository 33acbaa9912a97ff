"""Training throughput: steps/s, examples/s and MFU of the sharded train step.

    python -m benchmarks.train_bench [--sizes tiny release] [--seconds 2] [--steps 3] [--json OUT]

The step is the trainer's own (`trainer.build_train_functions`: jit with explicit shardings,
donated state, cross-reconstruction triplets) on a synthetic triplet batch held on the
device, so the figure is the model's compute, not the input pipeline (benchmarked apart in
`input_pipeline_bench`). Compilation (lower + compile) is timed apart, then one warm-up step and `steps` timed
steps; examples/s counts the three clips of each triplet. FLOPs per step come from XLA's cost
analysis of the compiled step; MFU divides achieved FLOP/s by this machine's fp32 matmul
throughput measured in the same run (on a GPU: by the chip's peak when --peak-tflops is given).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np

from voiceemo_jax.testing.batches import synthetic_triplet_batch


@dataclasses.dataclass
class TrainRow:
    size: str
    batch: int  # triplets per step
    seconds: float  # audio per clip
    parameters: int
    compile_seconds: float
    step_seconds: float  # median
    steps_per_second: float
    examples_per_second: float  # clips: 3 per triplet
    tflop_per_step: float
    achieved_tflops: float
    peak_tflops: float
    mfu: float


def bench_size(size: str, batch: int, seconds: float, steps: int, peak_tflops: float) -> TrainRow:
    import jax

    from configs.tiny import get_config
    from voiceemo_jax.models import presets
    from voiceemo_jax.testing.flops import xla_flops
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    config.model.size = size
    config.model.remat = size == "release"
    config.train.num_steps = 1000
    model_config = presets.model_config(size)
    mesh = sharding.make_mesh(-1, 1)
    fns = trainer.build_train_functions(config, model_config, mesh, triplets=True, has_emotions=True)
    state = jax.jit(fns.init_state, static_argnums=0, out_shardings=fns.state_shardings)(0)
    parameters = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
    samples = int(round(seconds * 16000))
    local = synthetic_triplet_batch(batch, samples=samples)
    global_batch = sharding.global_batch(local, mesh)
    rng = jax.random.key(0)
    start = time.perf_counter()
    compiled = fns.train_step.lower(state, global_batch, rng).compile()
    compile_s = time.perf_counter() - start
    tflop = xla_flops(compiled) / 1e12

    state, metrics = fns.train_step(state, global_batch, rng)  # warm-up
    jax.block_until_ready(metrics)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        state, metrics = fns.train_step(state, global_batch, rng)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    achieved = tflop / step_s
    return TrainRow(
        size=size, batch=batch, seconds=seconds, parameters=parameters, compile_seconds=compile_s,
        step_seconds=step_s, steps_per_second=1 / step_s, examples_per_second=3 * batch / step_s,
        tflop_per_step=tflop, achieved_tflops=achieved, peak_tflops=peak_tflops,
        mfu=achieved / peak_tflops if peak_tflops else 0.0,
    )  # fmt: skip


def format_table(rows: list[TrainRow]) -> str:
    lines = [
        "| size | params | triplets/step | audio s | compile s | step s | steps/s | examples/s | TFLOP/step "
        "| TFLOP/s | MFU |",
        "|" + " --- |" * 11,
    ]
    for r in rows:
        lines.append(
            f"| {r.size} | {r.parameters / 1e6:.1f}M | {r.batch} | {r.seconds:g} | {r.compile_seconds:.1f} | "
            f"{r.step_seconds:.3f} | {r.steps_per_second:.2f} | {r.examples_per_second:.1f} | {r.tflop_per_step:.3f} | "
            f"{r.achieved_tflops:.3f} | {100 * r.mfu:.1f}% |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "release"], choices=("tiny", "demo", "base", "release"))
    parser.add_argument(
        "--batch", type=int, nargs="+", default=None, help="triplets per step per size (default: tiny 8, else 1)"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="audio per clip (default 2)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="the chip's peak (default: measured matmul)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)

    import jax

    from benchmarks.inference_bench import matmul_gflops

    peak = args.peak_tflops or matmul_gflops()["jax"] / 1e3
    batches = args.batch or [8 if s == "tiny" else 1 for s in args.sizes]
    rows = [bench_size(s, b, args.seconds, args.steps, peak) for s, b in zip(args.sizes, batches)]
    print(format_table(rows))
    print(f"\npeak used for MFU: {peak:.3f} TFLOP/s ({'given' if args.peak_tflops else 'measured fp32 matmul'}); "
          f"backend {jax.default_backend()}, {jax.device_count()} device(s)")  # fmt: skip
    if args.json:
        from voiceemo_jax.atomic_files import atomic_path

        with atomic_path(Path(args.json)) as tmp:
            tmp.write_text(json.dumps({"benchmark": "train", "peak_tflops": peak, "backend": jax.default_backend(),
                                       "results": [dataclasses.asdict(r) for r in rows]}, indent=2) + "\n")  # fmt: skip
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
