"""Tiny dataset trees in each dataset's real on-disk layout, for the data tests.

Every clip is a short sine whose frequency encodes the clip (so resampling can be
checked), and every target row carries its labels in fixed channels (so a test can tell
which target a record received): channel 0 = emotion id, 1 = level id, 2 = sentence,
3 = frame index / 100 (30 fps). Durations vary so length bucketing has work to do.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import pickle
from pathlib import Path

import numpy as np
import soundfile

from voiceemo_jax.timebase import frames_for

TARGET_DIM = 52


def read_tsv(path) -> list[dict]:
    """The rows of an index.tsv (tab-separated, header row) as dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def tone(seconds: float, rate: int, frequency: float) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def label_target(num_frames: int, emotion: int, level: int, sentence: int, dim: int = TARGET_DIM) -> np.ndarray:
    target = np.zeros((num_frames, dim), np.float32)
    target[:, 0], target[:, 1], target[:, 2] = emotion, level, sentence
    target[:, 3] = np.arange(num_frames) / 100.0
    return target


def clip_seconds(*fields: int) -> float:
    """A deterministic duration in [0.30, 0.65) s from the clip's fields."""
    return 0.30 + 0.05 * (sum((i + 3) * f for i, f in enumerate(fields)) % 7)


# ---------------------------------------------------------------- RAVDESS


def ravdess_stem(modality: int, emotion: int, intensity: int, statement: int, repetition: int, actor: int) -> str:
    return f"{modality:02d}-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"


def write_ravdess(
    audio_root: Path,
    targets_root: Path,
    actors=(1, 2, 21, 23),
    emotions=(1, 2, 3, 5),
    repetitions=(1,),
    rate: int = 48_000,
) -> list[str]:
    """Actor_XX/03-01-EE-II-SS-RR-AA.wav (48 kHz 16-bit PCM) + targets/01-01-...npy; returns clip ids."""
    ids = []
    for actor in actors:
        folder = audio_root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for emotion in emotions:
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for repetition in repetitions:
                        fields = (emotion, intensity, statement, repetition, actor)
                        stem = ravdess_stem(3, *fields)
                        audio = tone(clip_seconds(*fields), rate, 200 + 40 * emotion + 15 * statement)
                        soundfile.write(folder / f"{stem}.wav", audio, rate, subtype="PCM_16")
                        num_frames = frames_for(len(audio), rate)
                        targets_root.mkdir(parents=True, exist_ok=True)
                        target = label_target(num_frames, emotion - 1, intensity - 1, statement)
                        np.save(targets_root / f"{ravdess_stem(1, *fields)}.npy", target)
                        ids.append(stem)
    return ids


# ---------------------------------------------------------------- MEAD


def write_m4a(path: Path, audio: np.ndarray, rate: int) -> None:
    """AAC in an MP4/M4A container via PyAV, with the encoder opened first so the priming
    delay is recorded in the container's edit list (as FFmpeg-written MEAD files have it)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        stream.codec_context.open()
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


MEAD_EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")


def write_mead(
    audio_root: Path,
    targets_root: Path,
    actors=("M003", "M005", "W009"),
    emotions=("angry", "happy", "neutral"),
    sentences=(1, 2, 3),
    mirror_audio_folder: bool = True,
    rate: int = 48_000,
) -> list[Path]:
    """<actor>/audio/<emotion>/level_<n>/<NNN>.m4a + a mirrored .npy tree; returns the audio paths."""
    paths = []
    for actor in actors:
        for emotion in emotions:
            e = MEAD_EMOTIONS.index(emotion)
            for level in (1,) if emotion == "neutral" else (1, 2):
                for sentence in sentences:
                    relative = Path(actor, "audio", emotion, f"level_{level}", f"{sentence:03d}.m4a")
                    audio = tone(clip_seconds(e, level, sentence), rate, 220 + 30 * e + 10 * sentence)
                    write_m4a(audio_root / relative, audio, rate)
                    target_rel = relative.with_suffix(".npy")
                    if not mirror_audio_folder:
                        target_rel = Path(actor, *target_rel.parts[2:])
                    (targets_root / target_rel).parent.mkdir(parents=True, exist_ok=True)
                    target = label_target(frames_for(len(audio), rate), e, level - 1, sentence)
                    np.save(targets_root / target_rel, target)
                    paths.append(audio_root / relative)
    return paths


# ---------------------------------------------------------------- VOCASET

VOCASET_SUBJECTS = {
    "train": ("FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA"),
    "validation": ("FaceTalk_170811_03275_TA",),
    "test": ("FaceTalk_170809_00138_TA",),
}


def write_vocaset(root: Path, sentences=(1, 2, 21, 22), num_vertices: int = 5, rate: int = 22_050) -> dict:
    """wav/<Subject>_sentenceNN.wav, vertices_npy/<same>.npy ([T60, 3V] at 60 fps), templates.pkl.

    Returns {"templates": {subject: [V, 3]}, "vertices": {stem: [T60, 3V]}} for checks.
    Vertex k of frame t (60 fps) is template + (t, k, sentence) * 1e-3 on x, y, z.
    """
    rng = np.random.default_rng(0)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    (root / "vertices_npy").mkdir(parents=True, exist_ok=True)
    subjects = [s for group in VOCASET_SUBJECTS.values() for s in group]
    templates = {s: rng.normal(size=(num_vertices, 3)) for s in subjects}  # float64, as in the real file
    vertices = {}
    for i, subject in enumerate(subjects):
        for sentence in sentences:
            stem = f"{subject}_sentence{sentence:02d}"
            audio = tone(clip_seconds(i, sentence), rate, 180 + 20 * i + 5 * sentence)
            soundfile.write(root / "wav" / f"{stem}.wav", audio, rate, subtype="PCM_16")
            frames60 = math.ceil(len(audio) / rate * 60)
            t = np.arange(frames60)[:, None, None]
            k = np.arange(num_vertices)[None, :, None]
            offsets = np.concatenate([t + 0 * k, k + 0 * t, sentence + 0 * (t + k)], axis=2) * 1e-3
            v = (templates[subject][None] + offsets).reshape(frames60, -1).astype(np.float32)
            np.save(root / "vertices_npy" / f"{stem}.npy", v)
            vertices[stem] = v
    with open(root / "templates.pkl", "wb") as f:
        pickle.dump(templates, f, protocol=2)
    return {"templates": templates, "vertices": vertices}


# ---------------------------------------------------------------- synthetic corpus

SYNTH_EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def write_synth_corpus(
    root: Path,
    voices=(("kal", False), ("ked", False), ("slt", True)),
    sentences=((0, "train"), (1, "train"), (2, "train"), (3, "validation"), (4, "test")),
    emotions=SYNTH_EMOTIONS,
    levels=(1, 2),
    seconds=None,
    noise: bool = False,
) -> dict:
    """The generator's layout (corpus.json + wav/targets/phones trees); every voice says every
    sentence in every emotion at every level. `seconds(v, e, l, s)` overrides the duration."""
    rng = np.random.default_rng(1)
    clips = []
    for v, (voice, _) in enumerate(voices):
        for e, emotion in enumerate(emotions):
            for level in levels:
                for sentence, _ in sentences:
                    rel = Path(voice, emotion, f"level_{level}", f"{sentence:03d}")
                    duration = seconds(v, e, level, sentence) if seconds else clip_seconds(v, e, level, sentence)
                    if noise:
                        audio = (0.1 * rng.standard_normal(int(duration * 16_000))).astype(np.float32)
                    else:
                        audio = tone(duration, 16_000, 150 + 25 * e + 7 * sentence)
                    wav = root / "wav" / f"{rel}.wav"
                    target = root / "targets" / f"{rel}.npy"
                    phones = root / "phones" / f"{rel}.json"
                    for p in (wav, target, phones):
                        p.parent.mkdir(parents=True, exist_ok=True)
                    soundfile.write(wav, audio, 16_000, subtype="PCM_16")
                    np.save(target, label_target(frames_for(len(audio), 16_000), e, level - 1, sentence))
                    phones.write_text(json.dumps([{"phone": "pau", "end": duration}]))
                    files = {"wav": f"wav/{rel}.wav", "target": f"targets/{rel}.npy", "phones": f"phones/{rel}.json"}
                    clips.append({**files, "voice": voice, "emotion": emotion, "level": level, "sentence": sentence})
    corpus = {
        "name": "voiceemo-synth",
        "version": "1.0.0",
        "seed": 0,
        "sample_rate_hz": 16_000,
        "fps": 30,
        "emotions": list(emotions),
        "levels": list(levels),
        "voices": [{"name": name, "held_out": held_out} for name, held_out in voices],
        "sentences": [{"id": sid, "text": f"sentence number {sid}", "split": split} for sid, split in sentences],
        "clips": clips,
    }
    (root / "corpus.json").write_text(json.dumps(corpus, indent=1))
    return corpus


def plant_ravdess_problems(audio_root: Path, targets_root: Path, actor: int = 1) -> dict[str, Path]:
    """Adds one clip per kind of bad data to Actor_<actor>; returns {kind: audio path}.

    Uses repetition 02, which `write_ravdess` leaves free, so no good clip is disturbed.
    """
    folder = audio_root / f"Actor_{actor:02d}"
    planted = {}
    # Unreadable audio (with a valid target, so only the audio is at fault).
    stem = ravdess_stem(3, 3, 1, 1, 2, actor)
    (folder / f"{stem}.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really a wave file")
    np.save(targets_root / f"{ravdess_stem(1, 3, 1, 1, 2, actor)}.npy", label_target(12, 2, 0, 1))
    planted["corrupt"] = folder / f"{stem}.wav"
    # A good clip with no target anywhere.
    stem = ravdess_stem(3, 3, 2, 1, 2, actor)
    soundfile.write(folder / f"{stem}.wav", tone(0.4, 48_000, 300), 48_000, subtype="PCM_16")
    planted["missing_target"] = folder / f"{stem}.wav"
    # Target 10 frames longer than the audio (tolerance is 3).
    stem = ravdess_stem(3, 5, 1, 1, 2, actor)
    audio = tone(0.4, 48_000, 330)
    soundfile.write(folder / f"{stem}.wav", audio, 48_000, subtype="PCM_16")
    too_long = label_target(frames_for(len(audio), 48_000) + 10, 4, 0, 1)
    np.save(targets_root / f"{ravdess_stem(1, 5, 1, 1, 2, actor)}.npy", too_long)
    planted["length_mismatch"] = folder / f"{stem}.wav"
    # Six fields instead of seven.
    (folder / "03-01-05-01-01-01.wav").write_bytes((folder / f"{stem}.wav").read_bytes())
    planted["malformed_name"] = folder / "03-01-05-01-01-01.wav"
    # 20 ms of audio, shorter than the model's minimum (45 ms).
    stem = ravdess_stem(3, 5, 2, 1, 2, actor)
    soundfile.write(folder / f"{stem}.wav", tone(0.02, 48_000, 330), 48_000, subtype="PCM_16")
    np.save(targets_root / f"{ravdess_stem(1, 5, 2, 1, 2, actor)}.npy", label_target(1, 4, 1, 1))
    planted["too_short"] = folder / f"{stem}.wav"
    return planted


def run_in_tf_data(fn, *args, dtypes):
    """Runs numpy function `fn(*args)` as a `tf.numpy_function` inside a tf.data map; returns numpy outputs."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensors(tuple(np.asarray(a) for a in args))
    dataset = dataset.map(lambda *xs: tf.numpy_function(fn, list(xs), dtypes))
    (out,) = list(dataset.as_numpy_iterator())
    return out


def read_records(builder_dir: Path, split: str) -> list[dict]:
    """All records of a split through tfds' own reader (independent of the input pipeline)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder_from_directory(str(builder_dir))
    return list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))


@dataclasses.dataclass
class Build:
    out: Path
    summary: dict
    sources: dict

    @property
    def builder_dir(self) -> Path:
        return self.out / self.summary["builder_dir"]


def build(argv: list[str], out: Path, **sources) -> Build:
    """Runs `voiceemo data build ARGV --out OUT` (must succeed) and reads its summary."""
    from voiceemo_jax.cli import main

    assert main(["data", "build", *argv, "--out", str(out)]) == 0
    return Build(out, json.loads((out / "summary.json").read_text()), sources)
