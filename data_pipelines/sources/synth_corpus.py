"""The offline synthetic corpus (`voiceemo data synth`) -> records.

Layout (the generator's contract):

    ROOT/corpus.json      {"name": "voiceemo-synth", "version", "seed", "sample_rate_hz": 16000,
                           "fps": 30, "emotions": [...7], "levels": [1, 2],
                           "voices": [{"name", "held_out"}], "sentences": [{"id", "text", "split"}],
                           "clips": [{"wav", "target", "phones", "voice", "emotion", "level", "sentence"}]}
    ROOT/wav/<voice>/<emotion>/level_<n>/<sentence:03d>.wav        16 kHz mono
    ROOT/targets/<voice>/<emotion>/level_<n>/<sentence:03d>.npy    [ceil(seconds * 30), 52] float32

Splits: clips of voices with held_out false follow their sentence's split (train /
validation / test); every clip of a held-out voice goes to "test_voice", which measures
generalisation to an unseen speaker. Labels: person = voice index in "voices", emotion =
index in "emotions", level = level - 1, content = sentence id.
"""

from __future__ import annotations

import json
from pathlib import Path

from data_pipelines.records.builder import ClipDatasetBuilder
from data_pipelines.records.clips import Catalog, ClipSource, SkippedFile
from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError

CORPUS_FILE = "corpus.json"
CORPUS_NAME = "voiceemo-synth"
SPLITS = ("train", "validation", "test", "test_voice")


def read_corpus(root: str | Path) -> dict:
    """ROOT/corpus.json, checked for the fields the builder relies on."""
    path = Path(root) / CORPUS_FILE
    try:
        corpus = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"--root {root}: no {CORPUS_FILE} (run `voiceemo data synth --out {root}` first)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: unreadable corpus description ({error})") from None
    missing = [k for k in ("name", "emotions", "levels", "voices", "sentences", "clips") if k not in corpus]
    if missing or corpus.get("name") != CORPUS_NAME:
        raise UserError(
            f"{path}: not a {CORPUS_NAME} corpus description (name {corpus.get('name')!r}, missing {missing})"
        )
    for key, expected in (("sample_rate_hz", 16_000), ("fps", 30)):
        if corpus.get(key, expected) != expected:
            raise UserError(f"{path}: {key} is {corpus[key]}, the builder expects {expected}")
    bad_splits = {s.get("split") for s in corpus["sentences"]} - set(SPLITS[:3])
    if bad_splits:
        raise UserError(f"{path}: unknown sentence split(s) {sorted(map(str, bad_splits))}")
    return corpus


def scan(root: str | Path) -> Catalog:
    """Lists the corpus' clips from corpus.json and checks their files exist."""
    root = Path(root)
    corpus = read_corpus(root)
    emotions = tuple(corpus["emotions"])
    levels = tuple(int(level) for level in corpus["levels"])
    voices = {voice["name"]: (i, bool(voice.get("held_out", False))) for i, voice in enumerate(corpus["voices"])}
    sentences = {int(s["id"]): s for s in corpus["sentences"]}
    skipped, clips = [], []
    for entry in corpus["clips"]:
        wav = root / str(entry.get("wav", ""))
        try:
            voice, held_out = voices[entry["voice"]]
            emotion = emotions.index(entry["emotion"])
            level = levels.index(int(entry["level"]))
            sentence = sentences[int(entry["sentence"])]
            target = root / entry["target"]
        except (KeyError, ValueError, TypeError) as error:
            skipped.append(SkippedFile(str(wav), f"malformed clip entry in {CORPUS_FILE}: {error!r}"))
            continue
        if not target.is_file():
            skipped.append(SkippedFile(str(wav), f"missing target {target}"))
            continue
        clips.append(
            ClipSource(
                clip_id=f"{entry['voice']}_{entry['emotion']}_level_{entry['level']}_{sentence['id']:03d}",
                split="test_voice" if held_out else sentence["split"],
                audio_path=wav,
                target_path=target,
                person=voice,
                emotion=emotion,
                level=level,
                content=int(sentence["id"]),
            )
        )
    return Catalog(
        dataset=SynthCorpus.name,
        split_names=SPLITS,
        emotions=emotions,
        levels=tuple(f"level_{level}" for level in levels),
        speakers=tuple(voices),
        sentences={sid: s.get("text", "") for sid, s in sentences.items()},
        target_dim=NUM_BLENDSHAPES,
        target_kind="arkit",
        has_emotion_pairs=True,
        clips=clips,
        skipped=skipped,
    )


class SynthCorpus(ClipDatasetBuilder, skip_registration=True):
    """The synthetic festival corpus (see the module docstring)."""

    name = "voiceemo_synth"
    DESCRIPTION = "Synthetic emotional speech (festival TTS, 16 kHz) with phone-timed ARKit targets at 30 fps."
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Nothing to download: generate the corpus with `voiceemo data synth --out ROOT`, then run
    `voiceemo data build --dataset synth --root ROOT --out OUT`.
    """
