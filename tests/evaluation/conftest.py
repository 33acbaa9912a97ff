"""Tiny built datasets (blendshape and vertex) and tiny checkpoints for the evaluation tests.

Source trees are written here in each dataset's documented layout and built once per
session with the project's own builders. Blendshape targets are smooth per-channel
curves, so every channel varies (Pearson is defined) and errors differ between channels.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voiceemo_jax.timebase import frames_for

SYNTH_EMOTIONS = ("angry", "calm", "happy", "neutral")  # "calm" is not a model label


@dataclasses.dataclass
class BuiltDataset:
    out: Path
    targets: dict[str, np.ndarray]  # clip_id -> [T, D] target as written to the source tree
    audio: dict[str, np.ndarray]  # clip_id -> [S] float32 16 kHz, as written
    controls: dict[str, tuple[int, int]]  # clip_id -> (level label, person label)
    emotions: dict[str, str]  # clip_id -> emotion name


def voice_like(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Harmonics of a wandering pitch under a syllable-rate envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    phase = 2 * np.pi * np.cumsum(110 + 30 * np.sin(2 * np.pi * 0.8 * t + seed)) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 5)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    return (0.2 * voiced + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def smooth_targets(num_frames: int, seed: int) -> np.ndarray:
    """[T, 52] curves in [0, 1]: a sine per channel with its own phase and frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None] / 30.0
    frequency, phase = rng.uniform(0.5, 4.0, 52), rng.uniform(0, 2 * np.pi, 52)
    return (0.5 + 0.4 * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)


def write_synth_corpus(root: Path) -> tuple[dict, dict, dict, dict]:
    """The synth generator's layout (see data_pipelines/sources/synth_corpus.py): voice kal says sentences
    0 (train) and 1 (test) in every emotion at levels 1 and 2; held-out voice slt says sentence 1."""
    sentences = [{"id": 0, "text": "zero", "split": "train"}, {"id": 1, "text": "one", "split": "test"}]
    clips, targets, audios, controls, emotions = [], {}, {}, {}, {}
    for v, voice in enumerate(("kal", "slt")):
        for e, emotion in enumerate(SYNTH_EMOTIONS):
            for level in (1, 2):
                for sentence in (0, 1) if voice == "kal" else (1,):
                    rel = f"{voice}/{emotion}/level_{level}/{sentence:03d}"
                    seed = 100 * v + 10 * e + 2 * level + sentence
                    audio = voice_like(0.4 + 0.05 * ((e + level + sentence) % 5), 16_000, seed)
                    target = smooth_targets(frames_for(len(audio), 16_000), seed)
                    for folder in ("wav", "targets", "phones"):
                        (root / folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    soundfile.write(root / "wav" / f"{rel}.wav", audio, 16_000, subtype="FLOAT")
                    np.save(root / "targets" / f"{rel}.npy", target)
                    (root / "phones" / f"{rel}.json").write_text(json.dumps([{"phone": "pau", "end": 0.4}]))
                    clips.append({"wav": f"wav/{rel}.wav", "target": f"targets/{rel}.npy",
                                  "phones": f"phones/{rel}.json", "voice": voice, "emotion": emotion,
                                  "level": level, "sentence": sentence})  # fmt: skip
                    clip_id = f"{voice}_{emotion}_level_{level}_{sentence:03d}"
                    targets[clip_id], audios[clip_id], emotions[clip_id] = target, audio, emotion
                    controls[clip_id] = (level - 1, v)
    corpus = {
        "name": "voiceemo-synth", "version": "1.0.0", "seed": 0, "sample_rate_hz": 16_000, "fps": 30,
        "emotions": list(SYNTH_EMOTIONS), "levels": [1, 2],
        "voices": [{"name": "kal", "held_out": False}, {"name": "slt", "held_out": True}],
        "sentences": sentences, "clips": clips,
    }  # fmt: skip
    (root / "corpus.json").write_text(json.dumps(corpus))
    return targets, audios, controls, emotions


@pytest.fixture(scope="session")
def synth_build(tmp_path_factory) -> BuiltDataset:
    """Blendshape build; test split = kal's sentence 1 in 4 emotions x 2 levels (8 clips)."""
    from data_pipelines.records import builder
    from data_pipelines.sources import synth_corpus

    root = tmp_path_factory.mktemp("eval_synth")
    written = write_synth_corpus(root / "corpus")
    builder.build_dataset(synth_corpus.SynthCorpus, synth_corpus.scan(root / "corpus"), root / "built")
    return BuiltDataset(root / "built", *written)


VOCASET_TEST_SUBJECT = "FaceTalk_170809_00138_TA"
VOCASET_TRAIN_SUBJECT = "FaceTalk_170728_03272_TA"
NUM_VERTICES = 5


def write_vocaset(root: Path) -> tuple[dict, dict]:
    """FaceFormer's VOCASET layout with 5-vertex meshes at 60 fps.

    Returns (clip_id -> [T30, 15] offsets from the template, clip_id -> audio)."""
    rng = np.random.default_rng(0)
    (root / "wav").mkdir(parents=True)
    (root / "vertices_npy").mkdir(parents=True)
    subjects = (VOCASET_TRAIN_SUBJECT, VOCASET_TEST_SUBJECT)
    templates = {s: rng.normal(size=(NUM_VERTICES, 3)) for s in subjects}
    offsets, audios = {}, {}
    for i, subject in enumerate(subjects):
        for sentence in (1, 21, 22):
            stem = f"{subject}_sentence{sentence:02d}"
            audio = voice_like(0.5 + 0.1 * (sentence % 3), 16_000, seed=i * 50 + sentence)
            soundfile.write(root / "wav" / f"{stem}.wav", audio, 16_000, subtype="FLOAT")
            frames60 = -(-len(audio) * 60 // 16_000)
            motion = 1e-3 * rng.normal(size=(frames60, NUM_VERTICES, 3)).cumsum(axis=0)
            vertices = (templates[subject][None] + motion).reshape(frames60, -1).astype(np.float32)
            np.save(root / "vertices_npy" / f"{stem}.npy", vertices)
            offsets[stem] = vertices[::2] - templates[subject].reshape(1, -1).astype(np.float32)
            audios[stem] = audio
    with open(root / "templates.pkl", "wb") as f:
        pickle.dump(templates, f)
    return offsets, audios


@pytest.fixture(scope="session")
def vocaset_build(tmp_path_factory) -> BuiltDataset:
    """5-vertex VOCASET build: test split = the test subject's sentences 21 and 22 (2 clips)."""
    from data_pipelines.records import builder
    from data_pipelines.sources import vocaset

    root = tmp_path_factory.mktemp("eval_vocaset")
    targets, audios = write_vocaset(root / "raw")
    catalog = vocaset.scan(root / "raw")
    builder.build_dataset(vocaset.Vocaset, catalog, root / "built")
    person = catalog.speakers.index(VOCASET_TEST_SUBJECT)
    controls = {stem: (0, person) for stem in targets}
    return BuiltDataset(root / "built", targets, audios, controls, {stem: "neutral" for stem in targets})


@pytest.fixture(scope="session")
def blendshape_checkpoint(tmp_path_factory) -> Path:
    """A converted tiny release-layout checkpoint (random weights, 52 outputs)."""
    from release_files import make_release_files

    from voiceemo_jax.cli import main

    root = tmp_path_factory.mktemp("eval_ckpt")
    _, _, pth, content_dir, emotion_dir = make_release_files(root, "layer", seed=4)
    out = root / "ckpt"
    argv = ["convert", "emotalk", "--checkpoint", str(pth), "--content-encoder", str(content_dir)]
    assert main(argv + ["--emotion-encoder", str(emotion_dir), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def vertex_checkpoint(tmp_path_factory) -> Path:
    """A tiny model with 15 outputs (5 vertices x 3) and a non-zero output head."""
    import jax
    from flax import nnx

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.models import presets
    from voiceemo_jax.models.voiceemo import VoiceEmo

    model = VoiceEmo(presets.model_config("tiny", output_dim=15), rngs=nnx.Rngs(5))
    head = model.morph_synthesizer.bs_map_r
    head.kernel[...] = 0.01 * jax.random.normal(jax.random.key(6), head.kernel[...].shape)
    return checkpoint_io.save_model(model, tmp_path_factory.mktemp("eval_vertex_ckpt") / "ckpt")
