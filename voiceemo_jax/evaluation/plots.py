"""PNG plots of an evaluation: predicted vs ground-truth curves and the emotion confusion matrix.

matplotlib runs on the Agg backend (no display needed); each plot is its own figure,
closed after saving so a long evaluation never accumulates figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES
from voiceemo_jax.timebase import FPS

# jawOpen first (the channel speech moves most), then one channel per facial group.
CURVE_CHANNELS = ("jawOpen", "mouthFunnel", "mouthSmileLeft", "browInnerUp", "eyeBlinkLeft", "cheekPuff")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _plot_track(ax, pred: np.ndarray, target: np.ndarray) -> None:
    """Ground truth and prediction [T] against time in seconds on one panel."""
    seconds = np.arange(len(pred)) / FPS
    ax.plot(seconds, target, color="black", lw=1.4, label="ground truth")
    ax.plot(seconds, pred, color="tab:red", lw=1.2, label="predicted")
    ax.grid(alpha=0.3)


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_channel_curves(path: Path, clip_id: str, pred: np.ndarray, target: np.ndarray) -> None:
    """One panel per `CURVE_CHANNELS` entry: pred and target [T, 52] against time in seconds."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(CURVE_CHANNELS), 1, figsize=(9, 1.7 * len(CURVE_CHANNELS)), sharex=True)
    for ax, name in zip(axes, CURVE_CHANNELS):
        channel = ARKIT_NAMES.index(name)
        _plot_track(ax, pred[:, channel], target[:, channel])
        ax.set_ylabel(name, fontsize=8)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{clip_id}: predicted vs ground truth")
    axes[-1].set_xlabel("time (s)")
    _save(plt, fig, path)


def plot_jaw_tracks(path: Path, tracks: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """jawOpen of several clips: [(clip_id, pred [T], target [T])]."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(tracks), 1, figsize=(9, 1.9 * len(tracks)), squeeze=False)
    for ax, (clip_id, pred, target) in zip(axes[:, 0], tracks):
        _plot_track(ax, pred, target)
        ax.set_title(f"jawOpen: {clip_id}", fontsize=9)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    _save(plt, fig, path)


def plot_region_tracks(path: Path, clip_id: str, tracks: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Mean displacement norm of each region's vertices per frame: {region: (pred [T], target [T])}."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(tracks), 1, figsize=(9, 2.2 * len(tracks)), squeeze=False, sharex=True)
    for ax, (region, (pred, target)) in zip(axes[:, 0], sorted(tracks.items())):
        _plot_track(ax, pred, target)
        ax.set_ylabel(f"{region}\nmean |d|", fontsize=8)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[0, 0].set_title(f"{clip_id}: region displacement from the neutral mesh")
    axes[-1, 0].set_xlabel("time (s)")
    _save(plt, fig, path)


def plot_confusion(
    path: Path, matrix: np.ndarray, labels: list[str], accuracy: float | None, title: str = "emotion confusion"
) -> None:
    """Confusion matrix [C, C] (rows true, columns predicted) with counts in the cells."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    size = 1.0 + 0.7 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size and matrix.max() else 1
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    accuracy_text = "n/a" if accuracy is None else f"{accuracy:.1%}"
    ax.set_title(f"{title} (accuracy {accuracy_text})")
    fig.colorbar(image, ax=ax, fraction=0.046)
    _save(plt, fig, path)


def write_plots(result, out_dir: Path) -> list[str]:
    """Writes every plot the result (a `report.EvaluationResult`) has data for into out_dir; returns the
    file names."""
    report, written = result.report, []
    if result.example is not None and report["target_kind"] == "arkit":
        plot_channel_curves(out_dir / "curves.png", result.example.clip_id, result.example.outputs,
                            result.example.targets)  # fmt: skip
        written.append("curves.png")
    if result.jaw_tracks:
        plot_jaw_tracks(out_dir / "jaw_open.png", result.jaw_tracks)
        written.append("jaw_open.png")
    if result.region_tracks and result.example is not None:
        plot_region_tracks(out_dir / "region_motion.png", result.example.clip_id, result.region_tracks)
        written.append("region_motion.png")
    emotion = report["emotion"]
    plot_confusion(out_dir / "confusion_matrix.png", emotion["confusion_matrix"], report["emotion_labels"],
                   emotion["accuracy"])  # fmt: skip
    written.append("confusion_matrix.png")
    face = report.get("face_emotion")
    if face:
        generated = face["generated"]
        plot_confusion(out_dir / "face_emotion_confusion.png", generated["confusion_matrix"], face["emotion_labels"],
                       generated["accuracy"], title="emotion read from the generated face")  # fmt: skip
        written.append("face_emotion_confusion.png")
    return written
