"""Benchmarks: speed against the PyTorch reference, training, input pipeline, long audio, demo quality."""

from pathlib import Path


def shown_path(path) -> str:
    """A path as results files record it: relative to the repository when inside it (no
    machine-specific prefix), else just its name."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return Path(path).name
