"""Multi-process training throughput through `voiceemo train` and the real tf.data pipeline.

    python -m benchmarks.multiprocess_bench [--sizes tiny demo] [--processes 1 2] [--steps 40]
        [--batch 8] [--json benchmarks/results/multiprocess_cpu.json]

Each row is one `voiceemo train --config configs/ravdess.py:size=SIZE` job on the learnable
fixture build (RAVDESS layout, generated here), run exactly as the README's launching section
documents: one process, or N processes on this machine joined by `--coordinator 127.0.0.1:PORT
--num-processes N --process-id i` (CPU: gloo collectives, one CPU device per process). Every
process feeds `--batch` triplets per step (weak scaling: the global batch grows with the
processes). The figure is the run's last logged window (`perf/examples_per_second` in
WORKDIR/final_metrics.json: the second half of the steps, after compilation; three clips per
triplet); a single bucket keeps it to one compiled shape.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Row:
    size: str
    processes: int
    per_process_batch: int  # triplets per process per step
    global_batch: int
    steps: int
    wall_seconds: float  # the whole job: start-up, compilation, all steps
    steps_per_second: float  # last logged window
    examples_per_second: float  # clips (3 per triplet), all processes together, last logged window


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(data_dir: Path, workdir: Path, *, size: str, processes: int, batch: int, steps: int) -> Row:
    command = [sys.executable, "-m", "voiceemo_jax.cli", "train", "--config", f"configs/ravdess.py:size={size}",
               "--workdir", str(workdir), f"--config.data.dir={data_dir}", "--config.data.bucket_seconds=(1.25,)",
               f"--config.train.per_process_batch_size={batch}", f"--config.train.num_steps={steps}",
               f"--config.train.log_every={steps // 2}", "--config.train.eval_every=0",
               f"--config.train.checkpoint_every={10 * steps}"]  # fmt: skip
    if processes > 1:
        command += ["--coordinator", f"127.0.0.1:{_port()}", "--num-processes", str(processes)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    workdir.mkdir(parents=True, exist_ok=True)
    logs = [workdir / f"process_{i}.log" for i in range(processes)]  # files: no pipe can fill and stall a process
    start = time.perf_counter()
    workers = []
    for i, log in enumerate(logs):
        with open(log, "w") as out:
            extra = ["--process-id", str(i)] if processes > 1 else []
            workers.append(subprocess.Popen(command + extra, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    for worker in workers:
        worker.wait()
    wall = time.perf_counter() - start
    for worker, log in zip(workers, logs):
        if worker.returncode:
            raise RuntimeError(f"voiceemo train failed ({size}, {processes} processes):\n{log.read_text()[-3000:]}")
    metrics = json.loads((workdir / "final_metrics.json").read_text())
    return Row(size, processes, batch, batch * processes, steps, wall,
               metrics["perf/steps_per_second"], metrics["perf/examples_per_second"])  # fmt: skip


def table(rows: list[Row]) -> str:
    lines = ["| size | processes | batch (per process / global) | steps/s | examples/s | wall (s) |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r.size} | {r.processes} | {r.per_process_batch} / {r.global_batch} | "
                     f"{r.steps_per_second:.2f} | {r.examples_per_second:.1f} | {r.wall_seconds:.0f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "demo"])
    parser.add_argument("--processes", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--steps", type=int, default=40, help="steps per job; the second half is timed")
    parser.add_argument("--batch", type=int, default=8, help="triplets per process per step")
    parser.add_argument("--json", default="benchmarks/results/multiprocess_cpu.json")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error("--steps must be >= 2")

    from data_pipelines.sources.learnable_fixture import ensure_fixture_build
    from voiceemo_jax.atomic_files import write_text

    rows = []
    with tempfile.TemporaryDirectory(prefix="multiprocess-bench-") as tmp:
        data_dir = ensure_fixture_build(Path(tmp) / "fixture")
        for size in args.sizes:
            for processes in args.processes:
                workdir = Path(tmp) / f"{size}_{processes}"
                rows.append(run_job(data_dir, workdir, size=size, processes=processes, batch=args.batch,
                                    steps=args.steps))  # fmt: skip
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.json:
        import jax

        payload = {"benchmark": "multiprocess_train", "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
                   "command": " ".join(["python -m benchmarks.multiprocess_bench", *(argv or sys.argv[1:])]),
                   "results": [dataclasses.asdict(r) for r in rows]}  # fmt: skip
        write_text(Path(args.json), json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
