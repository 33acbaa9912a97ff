"""Plans, synthesises and writes the corpus: ROOT/corpus.json plus wav/, targets/, phones/.

Structure (the triplets of SPEC section 4): every voice speaks every chosen sentence in
every emotion. With levels "alternate" each (voice, sentence) gets one level per emotion,
level 1 and 2 alternating over sentences and voices (7 clips); with "both" it gets both
levels (13 clips). Neutral has level 1 only, as in MEAD and RAVDESS. So for any voice,
X11 = (s1, e1), X12 = (s1, e2) and X21 = (s2, e1) all exist.

Size: `--hours H` picks the first n sentence ids, n = round(H * 3600 / (voices * clips per
(voice, sentence) * MEAN_CLIP_SECONDS)) clamped to [10, 222]; ids are in a fixed order whose
every prefix of ten holds train, validation and test sentences (`sentences.split_of`).

Determinism: a clip's randomness comes from SeedSequence([seed, voice, emotion, level,
sentence]) (indices into the full lists), so its files depend only on the seed and its own
identity, never on the worker count, the order of work, or which other clips are chosen.
Re-runs: ROOT/.synth_state.json records the seed and generator version. Same seed: clips
already on disk are kept (each file is written atomically, a clip counts when all three
exist), missing ones are made, files not in the plan are removed. Another seed: wav/,
targets/, phones/ and corpus.json are deleted first. corpus.json is written last.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from data_pipelines.sources.synth import expressions, festival_tts, prosody, psola, visemes
from data_pipelines.sources.synth.sentences import SENTENCES, sentence_records
from data_pipelines.sources.synth.voices import VOICES, VOICES_BY_NAME, Voice
from voiceemo_jax.atomic_files import atomic_path, write_text
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for

CORPUS_NAME = "voiceemo-synth"
CORPUS_VERSION = "1.2.0"  # bump when generated files change: a re-run then rebuilds instead of mixing
MEAN_CLIP_SECONDS = 3.0  # measured: 3.05 s over the 2058 clips of a 49-sentence corpus (edge pauses included)
MIN_SENTENCES = 10
CLIPS_PER_JOB = 42  # one festival process per job; loading a voice costs ~0.5 s
STATE_FILE = ".synth_state.json"
DATA_FOLDERS = ("wav", "targets", "phones")


@dataclass(frozen=True)
class ClipSpec:
    """One clip of the corpus: a voice speaking a sentence in an emotion at a level."""

    voice: str
    emotion: str
    level: int
    sentence: int

    @property
    def stem(self) -> str:
        return f"{self.voice}/{self.emotion}/level_{self.level}/{self.sentence:03d}"

    def relpaths(self) -> dict[str, str]:
        """corpus.json's path fields, relative to ROOT with forward slashes."""
        return {
            "wav": f"wav/{self.stem}.wav",
            "target": f"targets/{self.stem}.npy",
            "phones": f"phones/{self.stem}.json",
        }

    def record(self) -> dict:
        return {**self.relpaths(), "voice": self.voice, "emotion": self.emotion, "level": self.level,
                "sentence": self.sentence}  # fmt: skip

    def rngs(self, seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
        """Independent generators for prosody, audio and face, from the seed and this clip alone."""
        voice_index = [v.name for v in VOICES].index(self.voice)
        entropy = [seed, voice_index, prosody.EMOTIONS.index(self.emotion), self.level, self.sentence]
        return tuple(np.random.default_rng(child) for child in np.random.SeedSequence(entropy).spawn(3))


def conditions_for(sentence: int, voice_index: int, emotions: Sequence[str], levels: str) -> list[tuple[str, int]]:
    """(emotion, level) pairs one voice speaks one sentence in; see the module docstring."""
    conditions = []
    for emotion in emotions:
        if emotion == "neutral":
            conditions.append((emotion, 1))
        elif levels == "both":
            conditions += [(emotion, 1), (emotion, 2)]
        else:
            conditions.append((emotion, 1 + (sentence + voice_index + prosody.EMOTIONS.index(emotion)) % 2))
    return conditions


def clips_per_voice_sentence(emotions: Sequence[str], levels: str) -> int:
    return len(conditions_for(0, 0, emotions, levels))


def sentences_for_hours(hours: float, num_voices: int, clips_per_sentence: int) -> list[int]:
    """The sentence ids the --hours rule picks (see the module docstring)."""
    wanted = round(hours * 3600.0 / (num_voices * clips_per_sentence * MEAN_CLIP_SECONDS))
    return list(range(min(max(wanted, MIN_SENTENCES), len(SENTENCES))))


def plan_clips(
    voices: Sequence[Voice], emotions: Sequence[str], sentences: Sequence[int], levels: str
) -> list[ClipSpec]:
    """Every clip of the corpus, ordered voice, sentence, emotion, level."""
    all_names = [v.name for v in VOICES]
    return [
        ClipSpec(voice.name, emotion, level, sentence)
        for voice in voices
        for sentence in sentences
        for emotion, level in conditions_for(sentence, all_names.index(voice.name), emotions, levels)
    ]


def _clip_complete(root: Path, clip: ClipSpec) -> bool:
    return all((root / rel).is_file() for rel in clip.relpaths().values())


def synthesise_clips(root: Path, seed: int, clips: Sequence[ClipSpec]) -> list[tuple[ClipSpec, int]]:
    """Synthesises and writes `clips` (one festival run); returns (clip, num_samples) pairs.

    Files per clip, each written atomically: the wav (16 kHz mono PCM16), the phones json
    ({"text", "sample_rate_hz", "phones": [{"phone", "start", "end"}]}, seconds) and last the
    target ([frames, 52] float32, frames = ceil(samples * 30 / 16000)).
    """
    plans = []
    for clip in clips:
        prosody_rng, audio_rng, face_rng = clip.rngs(seed)
        voice = VOICES_BY_NAME[clip.voice]
        clip_prosody = prosody.prosody_for(clip.emotion, clip.level, prosody_rng)
        request = festival_tts.TtsRequest(
            text=SENTENCES[clip.sentence],
            festival_voice=voice.festival_voice,
            duration_stretch=clip_prosody.duration_stretch * voice.rate_factor,
        )
        plans.append((clip, voice, clip_prosody, request, audio_rng, face_rng))
    results = festival_tts.synthesise_batch([plan[3] for plan in plans])

    written = []
    for (clip, voice, clip_prosody, request, audio_rng, face_rng), tts in zip(plans, results, strict=True):
        audio, f0_hz = prosody.render_clip_audio(tts, voice, clip_prosody, audio_rng)
        num_frames = frames_for(len(audio))
        articulation = expressions.articulation_for(clip.emotion, clip.level)
        mouth, closure = visemes.mouth_and_closure(tts.phones, num_frames, articulation)
        face = expressions.expression_curves(clip.emotion, clip.level, num_frames, face_rng, f0_hz)
        targets = expressions.compose_targets(mouth, closure, face, expressions.blink_curve(num_frames, face_rng))
        paths = {key: root / rel for key, rel in clip.relpaths().items()}
        with atomic_path(paths["wav"]) as tmp:
            sf.write(tmp, audio, SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
        phones = [{"phone": p.name, "start": p.start, "end": p.end} for p in tts.phones]
        record = {"text": request.text, "sample_rate_hz": SAMPLE_RATE_HZ, "phones": phones}
        write_text(paths["phones"], json.dumps(record, indent=1) + "\n")
        with atomic_path(paths["target"]) as tmp:
            np.save(tmp, targets)
        written.append((clip, len(audio)))
    return written


def _job(args: tuple[str, int, list[ClipSpec]]) -> list[tuple[ClipSpec, int]]:
    root, seed, clips = args
    return synthesise_clips(Path(root), seed, clips)


def _read_state(root: Path) -> dict | None:
    try:
        return json.loads((root / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def check_out_folder(root: Path) -> None:
    """UserError unless `root` is absent, an empty folder or a synth corpus (never clobber other data)."""
    if root.exists() and not root.is_dir():
        raise UserError(f"--out {root} exists and is not a folder")
    if root.is_dir() and not (root / STATE_FILE).is_file() and any(root.iterdir()):
        raise UserError(f"--out {root} is a non-empty folder that is not a synth corpus; choose a new or empty folder")


def _prepare_root(root: Path, seed: int) -> None:
    """Makes `root` a corpus of `seed`: keeps a same-seed corpus, clears another seed's."""
    wanted = {"seed": seed, "version": CORPUS_VERSION}
    state = _read_state(root)
    if state == wanted:
        return
    if state is not None or (root / STATE_FILE).exists():
        print(f"{root}: was generated with {state}; rebuilding for seed {seed}", file=sys.stderr)
        (root / "corpus.json").unlink(missing_ok=True)
        for folder in DATA_FOLDERS:
            shutil.rmtree(root / folder, ignore_errors=True)
    write_text(root / STATE_FILE, json.dumps(wanted) + "\n")


def _remove_unplanned(root: Path, clips: Sequence[ClipSpec]) -> int:
    """Deletes files under wav/, targets/, phones/ that no planned clip owns (earlier plans,
    interrupted temporaries); returns how many."""
    planned = {rel for clip in clips for rel in clip.relpaths().values()}
    removed = 0
    for folder in DATA_FOLDERS:
        for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
            if path.is_file() and path.relative_to(root).as_posix() not in planned:
                path.unlink()
                removed += 1
    return removed


def corpus_record(seed: int, voices: Sequence[Voice], sentences: Sequence[int], clips: Sequence[ClipSpec]) -> dict:
    """The content of corpus.json."""
    return {
        "name": CORPUS_NAME,
        "version": CORPUS_VERSION,
        "seed": seed,
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "fps": FPS,
        "emotions": list(prosody.EMOTIONS),
        "levels": list(prosody.LEVELS),
        "voices": [voice.record() for voice in voices],
        "sentences": sentence_records(sentences),
        "clips": [clip.record() for clip in clips],
    }


@dataclass(frozen=True)
class SynthSummary:
    clips: int
    synthesised: int
    audio_seconds: float  # of the clips synthesised by this run
    wall_seconds: float


def synthesise_corpus(
    out: str | os.PathLike,
    seed: int,
    voices: Sequence[Voice],
    emotions: Sequence[str],
    sentences: Sequence[int],
    levels: str = "alternate",
    workers: int = 1,
    progress: bool = True,
) -> SynthSummary:
    """Writes (or completes) the corpus under `out`; see the module docstring."""
    from tqdm import tqdm

    root = Path(out)
    check_out_folder(root)
    festival_tts.check_voices({voice.festival_voice for voice in voices})
    _prepare_root(root, seed)
    clips = plan_clips(voices, emotions, sentences, levels)
    _remove_unplanned(root, clips)
    todo = [clip for clip in clips if not _clip_complete(root, clip)]
    jobs = [(str(root), seed, todo[i : i + CLIPS_PER_JOB]) for i in range(0, len(todo), CLIPS_PER_JOB)]

    start, audio_samples = time.perf_counter(), 0
    with tqdm(total=len(todo), unit="clip", desc="synth", disable=not progress or not todo) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for written in map(_job, jobs):
                audio_samples += sum(n for _, n in written)
                bar.update(len(written))
        else:
            # librosa's numba kernels are compiled and cached here, once, before the workers
            # start: workers compiling at the same moment race on the on-disk cache, and a
            # cache written that way has crashed later runs when loaded.
            psola.warm_up()
            # spawn: workers start clean (no inherited threads or locks from the parent). A
            # worker that dies (a crash, the OOM killer) raises BrokenProcessPool here
            # instead of leaving the run waiting for a result that never comes.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
                futures = [pool.submit(_job, job) for job in jobs]
                try:
                    for future in as_completed(futures):
                        written = future.result()
                        audio_samples += sum(n for _, n in written)
                        bar.update(len(written))
                except BrokenProcessPool:
                    raise UserError(
                        "a synthesis worker died (crashed or was killed); clips finished so far are kept, "
                        "re-run the same command to continue (--workers 1 shows the crash in this process)"
                    ) from None
                except BaseException:
                    # Ctrl-C or a failed job: drop the queued jobs. Half-written temporaries of the
                    # running ones are removed by the next run (_remove_unplanned); finished clips stay.
                    for future in futures:
                        future.cancel()
                    raise
    wall = time.perf_counter() - start
    write_text(root / "corpus.json", json.dumps(corpus_record(seed, voices, sentences, clips), indent=1) + "\n")
    return SynthSummary(len(clips), len(todo), audio_samples / SAMPLE_RATE_HZ, wall)
