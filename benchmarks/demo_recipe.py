"""The demo model's recipe end to end, each command timed: what README's "The demo model" says it costs.

    python -m benchmarks.demo_recipe --data REAL --workdir DIR [--json OUT] [--compare MODEL]

Runs the commands listed in configs/demo.py's docstring (the recipe README repeats) one after
another in DIR, REAL replaced by --data (a folder with `tess/` and `ravdess/`), and times each
(wall clock, data included). DIR gets a `configs` link to the repository's configs, which the
commands name; it must not hold an earlier run (the training commands refuse to write over
one). A command that fails stops the run with its exit status. Then the model the recipe trained
(DIR/runs/demo/model) is compared with --compare (default the shipped demo model): the largest
absolute difference over all parameters, 0.0 where the recipe reproduced it bit for bit. Time it
on an otherwise idle machine: 75 minutes on the 2-core CPU (BENCHMARKS.md, "The demo model's
quality").
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import print_and_write, results_parser, shown_path
from benchmarks.inference_bench import machine_info

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "voiceemo_jax" / "demo_assets" / "model"
TRAINED_MODEL = Path("runs/demo/model")  # where the recipe's last command writes, relative to DIR


def recipe_commands(text: str | None = None) -> list[str]:
    """The recipe's shell commands: the indented lines of configs/demo.py's docstring (or `text`)
    that start with `voiceemo ` or `python -m `."""
    if text is None:
        from configs import demo

        text = demo.__doc__
    lines = (line.strip() for line in text.splitlines() if line.startswith("    "))
    return [line for line in lines if line.startswith(("voiceemo ", "python -m "))]


def run_recipe(commands: list[str], workdir: Path, *, data: Path, log=print) -> list[dict]:
    """Runs `commands` in `workdir` (REAL -> `data`), one after another -> [{"command", "seconds"}].
    Raises SystemExit with a failing command's exit status."""
    workdir.mkdir(parents=True, exist_ok=True)
    link = workdir / "configs"
    if not link.exists():
        link.symlink_to(ROOT / "configs", target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    steps = []
    for command in commands:
        argv = [str(data) if word == "REAL" else word for word in shlex.split(command)]
        if argv[:2] == ["python", "-m"]:
            argv[0] = sys.executable
        log(f"demo_recipe: {command}")
        start = time.perf_counter()
        status = subprocess.run(argv, cwd=workdir, env=env).returncode
        seconds = time.perf_counter() - start
        if status:
            log(f"demo_recipe: failed with exit status {status} after {seconds:.0f} s: {command}")
            raise SystemExit(status)
        steps.append({"command": command, "seconds": round(seconds, 1)})
        log(f"demo_recipe: {seconds:.0f} s (total {sum(s['seconds'] for s in steps):.0f} s)")
    return steps


def largest_difference(model: Path, reference: Path) -> float:
    """The largest absolute difference between two models' parameters (same architecture)."""
    import jax
    import numpy as np
    from flax import nnx

    from voiceemo_jax import checkpoint_io

    leaves = [
        jax.tree.leaves_with_path(nnx.to_pure_dict(nnx.state(checkpoint_io.load_model(path)[0], nnx.Param)))
        for path in (model, reference)
    ]
    if [p for p, _ in leaves[0]] != [p for p, _ in leaves[1]]:
        raise ValueError(f"{model} and {reference} do not have the same parameters")
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for (_, a), (_, b) in zip(*leaves))


def table(results: dict) -> str:
    rows = ["| command | seconds |", "|---|---:|"]
    rows += [f"| `{s['command']}` | {s['seconds']:.0f} |" for s in results["steps"]]
    rows.append(f"| **total** | **{results['total_seconds']:.0f}** ({results['total_seconds'] / 60:.1f} min) |")
    rows.append(f"\nlargest parameter difference from {results['compared_with']}: "
                f"{results['largest_difference_from_compared_model']:.3g}")  # fmt: skip
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = results_parser(__doc__)
    parser.add_argument("--data", required=True, type=Path, help="folder with the TESS and RAVDESS corpora (REAL)")
    parser.add_argument("--workdir", required=True, type=Path, help="an empty folder for the run's data and models")
    parser.add_argument("--compare", type=Path, default=DEMO_MODEL,
                        help="model to compare the trained one with (default: the shipped demo model)")  # fmt: skip
    args = parser.parse_args(argv)
    for corpus in ("tess", "ravdess"):
        if not (args.data / corpus / "index.tsv").is_file():
            parser.error(f"--data {args.data}: no {corpus}/index.tsv")
    if (args.workdir / "runs").exists() or (args.workdir / "data").exists():
        parser.error(f"--workdir {args.workdir} holds an earlier run (runs/ or data/): choose an empty folder")
    steps = run_recipe(recipe_commands(), args.workdir.absolute(), data=args.data.absolute())
    results = {
        "machine": machine_info(os.cpu_count() or 1),
        "steps": steps,
        "total_seconds": round(sum(s["seconds"] for s in steps), 1),
        "compared_with": shown_path(args.compare),
        "largest_difference_from_compared_model": largest_difference(args.workdir / TRAINED_MODEL, args.compare),
    }
    return print_and_write(results, table(results), args.json)


if __name__ == "__main__":
    sys.exit(main())
