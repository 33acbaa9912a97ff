"""One command that measures what an accelerator is lent for: `bash benchmarks/device_suite.sh`.

    bash benchmarks/device_suite.sh --size {tiny,release} --out DIR [--budget-seconds 420]
    python -m benchmarks.device_suite ...   (same flags)

At `--size release` (random weights at the released architecture), on every local device:

1. windowed 10-minute inference (`Predictor.predict`, bf16, the `predict` default windows):
   seconds, real-time factor and the device's peak memory (`device.memory_stats()`; run
   first, so that the peak is this run's and the weights', not a big batch's);
2. batched inference of 10 s clips at batch 1/8/32/64 in bf16 and fp32 (`Predictor`'s
   compiled forward on device-resident inputs): median seconds, real-time factor, achieved
   TFLOP/s and its fraction of the chip's dense peak for that dtype;
3. the training step (the trainer's own sharded step on synthetic triplets of 4 s clips,
   bf16 compute with fp32 master weights, rematerialised encoder layers) at the largest
   per-device batch that fits, found by trying decreasing sizes: step seconds, MFU.

FLOPs: XLA's cost analysis of the lowered programs. Inference is counted with whole
(unfused) attention at batch 1 and scaled by the batch (every op is per item); the fused
kernel is a custom call XLA does not count. Training reports two counts: model FLOPs (the
step lowered without rematerialisation: the MFU convention) and what the compiled step
executes (the recomputed forward included: hardware FLOP utilisation, `hfu`).

Peaks: dense (no sparsity) TFLOP/s of the chip by `device_kind`, from NVIDIA's data sheets;
fp32 rows are compared with the TF32 tensor-core peak, as XLA runs fp32 matmuls on a GPU in
TF32 at JAX's default precision. An unknown device (and the CPU) gets null fractions.

`--size tiny` runs the same stages on the tiny model with small shapes (1 s clips at batch 2,
30 s windowed, training batch 2 or 1): an end-to-end check on a CPU, about two CPU-minutes,
almost all of it compiling (the training step's most).
`--budget-seconds` bounds the wall time: a stage that would start after it is recorded as
skipped, so one short run on a lent machine always leaves its results.

Writes DIR/device_suite.json and DIR/device_suite.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from voiceemo_jax.testing.flops import dense_peak_tflops
from voiceemo_jax.timebase import SAMPLE_RATE_HZ


@dataclasses.dataclass(frozen=True)
class SuiteSize:
    model: str  # presets size
    clip_seconds: float  # batched inference clip length
    batch_sizes: tuple[int, ...]
    long_seconds: float  # windowed inference length
    train_clip_seconds: float  # audio per clip of a training triplet
    train_batches: tuple[int, ...]  # per-device triplets to try, largest first
    repeats: int  # timed calls per inference configuration
    train_steps: int  # timed training steps


SIZES = {
    "release": SuiteSize("release", 10.0, (1, 8, 32, 64), 600.0, 4.0, (64, 32, 16, 8, 4, 2, 1), 3, 3),
    # Every stage, few compilations: the CPU check costs its compile time, not its run time.
    "tiny": SuiteSize("tiny", 1.0, (2,), 30.0, 1.0, (2, 1), 2, 2),
}


def _is_out_of_memory(error: Exception) -> bool:
    text = str(error)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def _peak_memory_bytes(devices) -> int | None:
    """Largest peak_bytes_in_use over `devices` since the process started, or None where the
    backend keeps no statistics (the CPU)."""
    peaks = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in devices]
    peaks = [p for p in peaks if p is not None]
    return max(peaks) if peaks else None


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_gflop(predictor, num_samples: int) -> float:
    """GFLOP of one clip through the forward (XLA's count of the lowered program, whole attention)."""
    import jax
    import jax.numpy as jnp

    from voiceemo_jax.inference.predictor import _forward
    from voiceemo_jax.models.attention import whole_attention

    audio = jax.ShapeDtypeStruct((1, num_samples), jnp.float32)
    ints = jax.ShapeDtypeStruct((1,), jnp.int32)

    def forward(*args):  # a new function object: the jit cache would return the blocked/fused trace
        return _forward.__wrapped__(*args)

    with whole_attention():
        lowered = jax.jit(forward, static_argnums=(0,)).lower(
            predictor.graphdef, predictor.params, audio, ints, ints, ints, audio, ints
        )
    cost = lowered.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float((cost or {}).get("flops", 0.0)) / 1e9


def inference_row(predictor, dtype: str, seconds: float, batch: int, repeats: int, gflop_per_clip: float, peak):
    """Median seconds of the compiled forward over `batch` clips held on the devices."""
    import jax

    from voiceemo_jax.inference.predictor import _fill_rows, _forward, pad_batch
    from voiceemo_jax.testing.signals import speech_like

    num_samples = int(round(seconds * SAMPLE_RATE_HZ))
    clips = [speech_like(num_samples, seed=i) for i in range(batch)]
    audio, lengths = pad_batch(clips, predictor.bucket_samples)
    rows = predictor.batch_rows(batch)
    ones = np.ones(batch, np.int32)
    inputs = [jax.device_put(_fill_rows(x, rows), predictor.batch_sharding) for x in (audio, lengths, ones, ones)]
    args = (predictor.graphdef, predictor.params, *inputs, inputs[0], inputs[1])

    def call():
        jax.block_until_ready(_forward(*args))

    start = time.perf_counter()
    call()  # trace + compile + run
    first = time.perf_counter() - start
    median = _median_seconds(call, repeats)
    gflop = gflop_per_clip * rows
    tflops = gflop / median / 1e3
    return {
        "dtype": dtype,
        "clip_seconds": seconds,
        "batch": batch,
        "rows": rows,
        "seconds": median,
        "compile_seconds": max(first - median, 0.0),
        "real_time_factor": seconds * batch / median,
        "gflop": gflop,
        "achieved_tflops": tflops,
        "peak_tflops": peak,
        "fraction_of_peak": tflops / peak if peak else None,
    }


def windowed_row(predictor, seconds: float, devices) -> dict:
    """One clip of `seconds` through the windowed path: first call (compiles) and a second call."""
    from voiceemo_jax.testing.signals import speech_like

    audio = speech_like(int(round(seconds * SAMPLE_RATE_HZ)), seed=0)
    before = _peak_memory_bytes(devices)
    start = time.perf_counter()
    prediction = predictor.predict(audio)
    first = time.perf_counter() - start
    start = time.perf_counter()
    prediction = predictor.predict(audio)
    again = time.perf_counter() - start
    peak = _peak_memory_bytes(devices)
    return {
        "dtype": str(predictor.dtype),
        "audio_seconds": seconds,
        "windowed": prediction.windowed,
        "frames": int(prediction.outputs.shape[0]),
        "finite": bool(np.isfinite(prediction.outputs).all()),
        "seconds": again,
        "first_call_seconds": first,
        "real_time_factor": seconds / again,
        "peak_memory_mib": None if peak is None else peak / 2**20,
        "memory_before_mib": None if before is None else before / 2**20,
    }


def _train_functions(size: str, remat: bool):
    from configs.tiny import get_config
    from voiceemo_jax.models import presets
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    config.model.size = size
    config.model.dtype = "bfloat16"
    config.model.remat = remat
    config.train.num_steps = 1000
    mesh = sharding.make_mesh(-1, 1)
    model_config = presets.model_config(size)
    return trainer.build_train_functions(config, model_config, mesh, triplets=True, has_emotions=True), mesh


def _lowered_flops(lowered) -> float:
    cost = lowered.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float((cost or {}).get("flops", 0.0))


def training_row(suite: SuiteSize, peak: float | None, deadline: float) -> dict:
    """The bf16 + remat train step at the largest per-device batch (of suite.train_batches) that fits."""
    import jax

    from voiceemo_jax.testing.batches import synthetic_triplet_batch
    from voiceemo_jax.testing.flops import xla_flops
    from voiceemo_jax.training import sharding

    samples = int(round(suite.train_clip_seconds * SAMPLE_RATE_HZ))
    rng = jax.random.key(0)
    fns, mesh = _train_functions(suite.model, remat=True)
    init = jax.jit(fns.init_state, static_argnums=0, out_shardings=fns.state_shardings)
    tried = []
    for per_device in suite.train_batches:
        if tried and time.perf_counter() > deadline:
            return {"skipped": "time budget spent while searching the batch size", "tried": tried}
        local = synthetic_triplet_batch(per_device * jax.local_device_count(), samples=samples)
        batch = sharding.global_batch(local, mesh)
        state = None
        try:
            state = init(0)
            start = time.perf_counter()
            compiled = fns.train_step.lower(state, batch, rng).compile()
            compile_s = time.perf_counter() - start
            state, metrics = compiled(state, batch, rng)  # warm-up
            jax.block_until_ready(metrics)
            times = []
            for _ in range(suite.train_steps):
                start = time.perf_counter()
                state, metrics = compiled(state, batch, rng)
                jax.block_until_ready(metrics)
                times.append(time.perf_counter() - start)
        except Exception as error:  # XLA's runtime error: only out-of-memory means "try smaller"
            if not _is_out_of_memory(error):
                raise
            tried.append({"per_device_batch": per_device, "fits": False})
            del state, batch
            gc.collect()
            continue
        tried.append({"per_device_batch": per_device, "fits": True})
        step_s = statistics.median(times)
        executed = xla_flops(compiled) / 1e12
        del state, batch, compiled
        gc.collect()
        # Model FLOPs: the same step lowered (not compiled) without remat, one triplet per
        # device, scaled by the batch (per-item ops only).
        plain, plain_mesh = _train_functions(suite.model, remat=False)
        one = sharding.global_batch(synthetic_triplet_batch(jax.local_device_count(), samples=samples), plain_mesh)
        abstract_state = jax.eval_shape(functools.partial(plain.init_state, 0))
        model = _lowered_flops(plain.train_step.lower(abstract_state, one, rng)) * per_device / 1e12
        return {
            "dtype": "bfloat16",
            "remat": True,
            "clip_seconds": suite.train_clip_seconds,
            "per_device_batch": per_device,
            "global_batch": per_device * jax.device_count(),
            "tried": tried,
            "compile_seconds": compile_s,
            "step_seconds": step_s,
            "clips_per_second": 3 * per_device * jax.device_count() / step_s,
            "model_tflop_per_step": model,
            "executed_tflop_per_step": executed,
            "model_tflops": model / step_s,
            "peak_tflops": peak,
            "mfu": model / step_s / (peak * jax.device_count()) if peak else None,
            "hfu": executed / step_s / (peak * jax.device_count()) if peak else None,
        }
    return {"skipped": "no batch size fits", "tried": tried}


def machine() -> dict:
    import jax

    device = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def run(size: str, out_dir: str | Path, budget_seconds: float = 420.0) -> dict:
    import jax

    from voiceemo_jax.inference.predictor import Predictor
    from voiceemo_jax.testing.random_models import random_model

    suite = SIZES[size]
    started = time.perf_counter()
    deadline = started + budget_seconds
    info = machine()
    peaks = {dtype: dense_peak_tflops(info["device_kind"], dtype) for dtype in ("bfloat16", "float32")}
    result = {
        "benchmark": "device_suite",
        "size": size,
        "suite": dataclasses.asdict(suite),
        "machine": info,
        "dense_peak_tflops": peaks,
        "budget_seconds": budget_seconds,
        "windowed": None,
        "inference": [],
        "training": None,
        "skipped": [],
        "stage_seconds": {},  # wall time of each stage, compilation included
    }
    last = {"name": None, "start": started}

    def close_stage() -> float:
        now = time.perf_counter()
        if last["name"] is not None:
            result["stage_seconds"][last["name"]] = now - last["start"]
        last.update(name=None, start=now)
        return now

    def stage(name: str) -> bool:
        """Closes the previous stage's clock; False (recorded as skipped) once the budget is spent."""
        if close_stage() > deadline:
            result["skipped"].append(name)
            print(f"skipped (time budget): {name}", flush=True)
            return False
        print(f"{name} ...", flush=True)
        last["name"] = name
        return True

    model = random_model(suite.model, seed=0)
    predictors = {"bfloat16": Predictor(model, dtype="bfloat16")}
    if stage(f"windowed {suite.long_seconds:g} s (bf16)"):
        result["windowed"] = windowed_row(predictors["bfloat16"], suite.long_seconds, jax.local_devices())
    num_samples = int(round(suite.clip_seconds * SAMPLE_RATE_HZ))
    gflop_per_clip = forward_gflop(predictors["bfloat16"], num_samples)
    result["gflop_per_clip"] = gflop_per_clip

    def inference(dtype: str) -> None:
        if dtype not in predictors:
            predictors[dtype] = Predictor(model, dtype=dtype)
        for batch in suite.batch_sizes:
            if stage(f"inference {dtype} {suite.clip_seconds:g} s x {batch}"):
                row = inference_row(
                    predictors[dtype], dtype, suite.clip_seconds, batch, suite.repeats, gflop_per_clip, peaks[dtype]
                )
                result["inference"].append(row)
                print(f"  {row['seconds']:.4f} s, {row['achieved_tflops']:.3f} TFLOP/s", flush=True)

    inference("bfloat16")
    predictors.pop("bfloat16")
    gc.collect()
    if stage("training step (bf16, remat)"):
        result["training"] = training_row(suite, peaks["bfloat16"], deadline)
    inference("float32")
    close_stage()
    predictors.clear()
    result["total_seconds"] = time.perf_counter() - started
    write(result, out_dir)
    return result


def format_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"# Device suite ({result['size']})",
        "",
        f"{m['device_count']} x {m['device_kind']} ({m['backend']}), JAX {m['jax']}, Python {m['python']}; "
        f"dense peak TFLOP/s: bf16 {result['dense_peak_tflops']['bfloat16']}, "
        f"fp32 (TF32) {result['dense_peak_tflops']['float32']}; total {result['total_seconds']:.0f} s",
        "",
        f"## Batched inference ({result['suite']['clip_seconds']:g} s clips, "
        f"{result.get('gflop_per_clip', 0):.1f} GFLOP per clip)",
        "",
        "| dtype | batch | seconds | real-time factor | compile s | TFLOP/s | fraction of peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["inference"]:
        fraction = "null" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.1f}%"
        lines.append(
            f"| {r['dtype']} | {r['batch']} | {r['seconds']:.4f} | {r['real_time_factor']:.1f} | "
            f"{r['compile_seconds']:.1f} | {r['achieved_tflops']:.3f} | {fraction} |"
        )
    w = result["windowed"]
    lines += ["", "## Windowed inference", ""]
    if w:
        memory = "null" if w["peak_memory_mib"] is None else f"{w['peak_memory_mib']:.0f} MiB"
        lines.append(
            f"{w['audio_seconds']:g} s of audio ({w['dtype']}): {w['seconds']:.2f} s (first call, compiling: "
            f"{w['first_call_seconds']:.2f} s), real-time factor {w['real_time_factor']:.1f}, "
            f"peak device memory {memory}"
        )
    t = result["training"] or {}
    lines += ["", "## Training step (bf16, remat)", ""]
    if "step_seconds" in t:
        mfu = "null" if t["mfu"] is None else f"{100 * t['mfu']:.1f}%"
        hfu = "null" if t["hfu"] is None else f"{100 * t['hfu']:.1f}%"
        lines += [
            "| per-device triplets | clip s | step s | clips/s | model TFLOP/step | TFLOP/s | MFU "
            "| HFU (remat counted) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {t['per_device_batch']} | {t['clip_seconds']:g} | {t['step_seconds']:.3f} "
            f"| {t['clips_per_second']:.1f} | {t['model_tflop_per_step']:.3f} | {t['model_tflops']:.3f} "
            f"| {mfu} | {hfu} |",
            "",
            "batch sizes tried: "
            + ", ".join(f"{x['per_device_batch']} ({'fits' if x['fits'] else 'out of memory'})" for x in t["tried"]),
        ]
    elif t:
        lines.append(f"skipped: {t['skipped']}")
    if result["skipped"]:
        lines += ["", "Skipped (time budget): " + "; ".join(result["skipped"])]
    return "\n".join(lines) + "\n"


def write(result: dict, out_dir: str | Path) -> None:
    from voiceemo_jax.atomic_files import write_text

    out_dir = Path(out_dir)
    markdown = format_markdown(result)
    write_text(out_dir / "device_suite.json", json.dumps(result, indent=2) + "\n")
    write_text(out_dir / "device_suite.md", markdown)
    print(markdown)
    print(f"wrote {out_dir / 'device_suite.json'} and {out_dir / 'device_suite.md'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="release", help="model and shapes (default release)")
    parser.add_argument("--out", required=True, metavar="DIR", help="writes DIR/device_suite.json and .md")
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=420.0,
        help="no stage starts after this many seconds (default 420: the suite ends within 8 minutes)",
    )
    args = parser.parse_args(argv)
    if args.budget_seconds <= 0:
        parser.error("--budget-seconds must be positive")
    run(args.size, args.out, args.budget_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
