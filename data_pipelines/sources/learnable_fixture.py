"""A small, learnable dataset in RAVDESS layout, generated from nothing: for tests and
the `tiny` training config (no external files).

Four actors (01, 02 train; 21 validation; 23 test), every emotion x intensity x
statement once: 30 clips per actor, about a second each, 48 kHz, with 3D-ETF-style
targets named after the audio-visual file (`01-01-...`), exactly as the real build reads.

The mapping is learnable, and each part of it is carried by what it should be:
- content: each statement has its own syllable rhythm (amplitude envelope); jawOpen
  and mouthClose follow that envelope;
- emotion: each emotion has its own pitch and vibrato, which sets a fixed upper-face
  pattern (brows, squint, smile/frown, sneer), scaled by intensity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voiceemo_jax.arkit import INDEX, NUM_BLENDSHAPES
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for

RATE_HZ = 48_000
ACTORS = (1, 2, 21, 23)
STATEMENT_SECONDS = {1: 0.9, 2: 1.15}
STATEMENT_SYLLABLES = {1: (0.12, 0.34, 0.55, 0.72), 2: (0.10, 0.28, 0.48, 0.66, 0.82, 0.98)}
EXPRESSION_CHANNELS = tuple(
    INDEX[name]
    for name in (
        "browInnerUp",
        "browDownLeft",
        "browDownRight",
        "eyeSquintLeft",
        "eyeSquintRight",
        "eyeWideLeft",
        "eyeWideRight",
        "mouthSmileLeft",
        "mouthSmileRight",
        "mouthFrownLeft",
        "mouthFrownRight",
        "noseSneerLeft",
        "noseSneerRight",
    )  # fmt: skip
)


def envelope(statement: int, times: np.ndarray) -> np.ndarray:
    """Syllable envelope in [0, 1] at `times` (seconds): Gaussian bumps, 60 ms wide."""
    bumps = [np.exp(-0.5 * ((times - t) / 0.06) ** 2) for t in STATEMENT_SYLLABLES[statement]]
    return np.clip(np.sum(bumps, axis=0), 0.0, 1.0)


def expression_patterns(seed: int = 0) -> np.ndarray:
    """[8 emotions, len(EXPRESSION_CHANNELS)] in [0, 0.8]; neutral (index 0) is all zero."""
    patterns = np.random.default_rng(seed).uniform(0.0, 0.8, (8, len(EXPRESSION_CHANNELS)))
    patterns[0] = 0.0
    return patterns.astype(np.float32)


def clip_audio(emotion: int, intensity: int, statement: int, actor: int, seed: int) -> np.ndarray:
    """[samples] float32 at 48 kHz. emotion 1-8, intensity 1-2, statement 1-2, actor 1-24."""
    rng = np.random.default_rng(seed * 100_003 + emotion * 1009 + intensity * 101 + statement * 11 + actor)
    seconds = STATEMENT_SECONDS[statement] * (1.0 + 0.03 * (actor % 3))
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    f0 = 100.0 * 2 ** ((emotion - 1) / 6.0) * (1.0 + 0.02 * (actor % 5))
    vibrato = 1.0 + 0.01 * emotion * np.sin(2 * np.pi * (3 + emotion) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / RATE_HZ
    voiced = sum(np.sin(k * phase) / k for k in range(1, 5))
    loudness = 0.12 if intensity == 1 else 0.25
    audio = loudness * envelope(statement, t) * voiced + 0.003 * rng.standard_normal(t.size)
    return audio.astype(np.float32)


def clip_targets(emotion: int, intensity: int, statement: int, num_samples_16k: int, patterns: np.ndarray):
    """[T, 52] float32, T = ceil(num_samples_16k * 30 / 16000)."""
    frames = frames_for(num_samples_16k)
    times = np.arange(frames) / FPS
    targets = np.zeros((frames, NUM_BLENDSHAPES), np.float32)
    mouth = envelope(statement, times)
    targets[:, INDEX["jawOpen"]] = 0.7 * mouth
    targets[:, INDEX["mouthClose"]] = 0.3 * (1.0 - mouth)
    targets[:, list(EXPRESSION_CHANNELS)] = patterns[emotion - 1] * (0.5 if intensity == 1 else 1.0)
    return targets


def write_fixture_tree(root: str | Path, *, seed: int = 0, actors=ACTORS) -> tuple[Path, Path]:
    """Writes ROOT/audio/Actor_XX/03-01-....wav and ROOT/targets/01-01-....npy; returns both roots."""
    import soundfile

    root = Path(root)
    audio_root, targets_root = root / "audio", root / "targets"
    patterns = expression_patterns(seed)
    for actor in actors:
        (audio_root / f"Actor_{actor:02d}").mkdir(parents=True, exist_ok=True)
        targets_root.mkdir(parents=True, exist_ok=True)
        for emotion in range(1, 9):
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    fields = f"{emotion:02d}-{intensity:02d}-{statement:02d}-01-{actor:02d}"
                    audio = clip_audio(emotion, intensity, statement, actor, seed)
                    soundfile.write(audio_root / f"Actor_{actor:02d}" / f"03-01-{fields}.wav", audio, RATE_HZ)
                    samples_16k = -(-len(audio) * SAMPLE_RATE_HZ // RATE_HZ)  # the reader's resampled length
                    targets = clip_targets(emotion, intensity, statement, samples_16k, patterns)
                    np.save(targets_root / f"01-01-{fields}.npy", targets)
    return audio_root, targets_root


def ensure_fixture_build(out: str | Path, *, seed: int = 0) -> Path:
    """Generates and builds the fixture into OUT once (re-used on later calls); returns OUT."""
    from data_pipelines.records.builder import build_dataset
    from data_pipelines.sources import ravdess

    out = Path(out)
    if (out / "build" / "summary.json").is_file():
        return out / "build"
    audio_root, targets_root = write_fixture_tree(out / "raw", seed=seed)
    build_dataset(ravdess.Ravdess, ravdess.scan(audio_root, targets_root), out / "build", shard_mb=0.25)
    return out / "build"
