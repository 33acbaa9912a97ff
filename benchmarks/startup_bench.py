"""Start-up of `voiceemo predict` with and without the persistent compilation cache.

    python -m benchmarks.startup_bench [--models demo release] [--seconds 5] [--repeats 2] [--json OUT]

For each model, a fresh `voiceemo predict` process on a --seconds speech-like clip, timed
from launch to exit (wall clock, so imports, checkpoint loading and compilation count; and
the process's CPU seconds, user + system, which a busy shared machine inflates less):
  * cold: an empty cache folder (every program is compiled, then written to the cache);
  * warm: the same command again on the same cache folder (programs loaded from it);
  * off: VOICEEMO_COMPILE_CACHE=0 (what every run cost before the cache).
Each is repeated --repeats times (a fresh empty folder for each cold run) and the median is
reported. Models: `demo` is the shipped demo model; `release` is a release-size random-weight
checkpoint (two wav2vec2-large encoders + decoder, 630M parameters) written once in the
VoiceEmo-JAX checkpoint format, as `voiceemo convert emotalk` writes the release's weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import shown_path
from voiceemo_jax.atomic_files import write_text

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "voiceemo_jax" / "demo_assets" / "model"
RESULTS = ROOT / "benchmarks" / "results" / "startup_cpu.json"


def write_release_checkpoint(folder: Path) -> Path:
    """A release-size random-weight checkpoint (built without compiling; ~2.5 GB on disk)."""
    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.testing.random_models import random_model

    out = folder / "release_random"
    checkpoint_io.save_model(random_model("release", seed=0), out, source={"kind": "random release-size weights"})
    return out


def write_clip(path: Path, seconds: float) -> Path:
    import soundfile

    from voiceemo_jax.testing.signals import speech_like

    soundfile.write(path, speech_like(round(seconds * 16000)), 16000)
    return path


def _cache_files(folder: Path) -> tuple[int, float]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 2**20


def time_predict(checkpoint: Path, clip: Path, cache_home: Path, *, cache: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `voiceemo predict` process using `cache_home` as its user cache folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "VOICEEMO_CACHE")}
    env.update(XDG_CACHE_HOME=str(cache_home), VOICEEMO_COMPILE_CACHE="1" if cache else "0")
    out = cache_home / "out.npy"
    command = [sys.executable, "-m", "voiceemo_jax.cli", "predict", "--checkpoint", str(checkpoint)]
    command += ["--audio", str(clip), "--out", str(out), "--no-progress"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_model(name: str, checkpoint: Path, clip: Path, repeats: int, work: Path) -> dict:
    runs = {"cold": [], "warm": [], "off": []}
    entries = megabytes = 0
    for r in range(repeats):
        home = work / f"{name}_cache_{r}"
        runs["cold"].append(time_predict(checkpoint, clip, home, cache=True))
        runs["warm"].append(time_predict(checkpoint, clip, home, cache=True))
        entries, megabytes = _cache_files(home / "voiceemo" / "xla")
        runs["off"].append(time_predict(checkpoint, clip, work / f"{name}_off_{r}", cache=False))
        shown = ", ".join(f"{kind} {v[-1][0]:.1f} s ({v[-1][1]:.1f} s CPU)" for kind, v in runs.items())
        print(f"  {name} run {r + 1}/{repeats}: {shown}", flush=True)
    row = {"model": name, "checkpoint": shown_path(checkpoint), "cache_entries": entries, "cache_mib": megabytes}
    for kind, values in runs.items():
        row[f"{kind}_s"] = statistics.median(wall for wall, _ in values)
        row[f"{kind}_cpu_s"] = statistics.median(cpu for _, cpu in values)
        row[f"{kind}_runs"] = [{"wall_s": wall, "cpu_s": cpu} for wall, cpu in values]
    row["warm_over_cold"] = row["warm_s"] / row["cold_s"]
    row["warm_over_cold_cpu"] = row["warm_cpu_s"] / row["cold_cpu_s"]
    return row


def format_table(rows: list[dict], seconds: float) -> str:
    lines = [
        f"`voiceemo predict` on a {seconds:g} s clip, seconds per process (median): wall (CPU user + system)",
        "| model | cache off | cold (empty cache) | warm (cached) | warm / cold, wall (CPU) | cache entries |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [f"{r[f'{kind}_s']:.1f} ({r[f'{kind}_cpu_s']:.1f})" for kind in ("off", "cold", "warm")]
        ratio = f"{r['warm_over_cold']:.2f} ({r['warm_over_cold_cpu']:.2f})"
        lines.append(
            f"| {r['model']} | {' | '.join(cells)} | {ratio} | {r['cache_entries']} ({r['cache_mib']:.1f} MiB) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=("demo", "release"), default=["demo", "release"])
    parser.add_argument("--seconds", type=float, default=5.0, help="clip length (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind; the median is reported")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {shown_path(RESULTS)})")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="voiceemo-startup-") as tmp:
        work = Path(tmp)
        clip = write_clip(work / "clip.wav", args.seconds)
        for name in args.models:
            checkpoint = DEMO_MODEL if name == "demo" else write_release_checkpoint(work)
            rows.append(bench_model(name, checkpoint, clip, args.repeats, work))
    import jax

    table = format_table(rows, args.seconds)
    print(table)
    machine = {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),  # the machine is shared: context for the figures
        "jax": jax.__version__,
        "backend": jax.default_backend(),
    }
    doc = {"seconds": args.seconds, "repeats": args.repeats, "machine": machine, "rows": rows, "table": table}
    write_text(args.json, json.dumps(doc, indent=2) + "\n")
    print(f"wrote {shown_path(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
