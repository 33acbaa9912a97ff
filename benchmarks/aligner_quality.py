"""The offline forced aligner against reference phone times: LJSpeech's MFA TextGrids, or festival's own.

    python -m benchmarks.aligner_quality --data ../shared/data/real_speech/ljspeech \
        --json benchmarks/results/aligner_quality.json
    python -m benchmarks.aligner_quality --festival CORPUS \
        --json benchmarks/results/aligner_quality_festival.json

`--data DIR`: DIR holds `index.tsv` (`file`, `speaker`, `text`) and `TextGrid/<file stem>.TextGrid`
(tiers `words` and `phones`, ARPAbet with stress digits, silence as "", `sil`, `sp` or `spn`): real
speech against another aligner's output. `--festival CORPUS`: a `voiceemo data synth` corpus, whose
clips come with the phone times festival synthesised them at, an exact reference (its neutral
clips by default, `--emotion` another emotion or `all`; festival's `ax`/`axr` read as CMUdict's
`ah`/`er`). Each recording is aligned to its text by `data_pipelines.sources.speech_alignment` and
compared:

- phone-boundary error: the two phone sequences are matched by label (difflib, so a word
  both pronounce differently leaves only its unmatched phones out); for every matched
  phone, |start - reference start| and |end - reference end| in ms: median, 90th
  percentile, mean, the signed mean (bias; positive = the aligner is late), and the share
  within 20 ms and 50 ms;
- frame agreement: the share of frames (10 ms, and 30 fps video frames) whose phone label
  (silence included) equals the reference's, over all frames and over the reference's
  speech frames only.
"""

from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks import print_and_write, results_parser, shown_path

REFERENCE_SILENCES = frozenset({"", "sil", "sp", "spn"})
FRAME_RATES = {"10 ms": 100, "30 fps": 30}


def read_textgrid_tier(path: Path, tier: str) -> list[tuple[str, float, float]]:
    """(text, xmin, xmax) of one IntervalTier of a long-format Praat TextGrid."""
    text = path.read_text(encoding="utf-8")
    items = re.split(r"\n\s*item \[\d+\]:", text)
    for item in items[1:]:
        if re.search(rf'name = "{re.escape(tier)}"', item):
            return [
                (label, float(xmin), float(xmax))
                for xmin, xmax, label in re.findall(
                    r'xmin = ([\d.eE+-]+)\s+xmax = ([\d.eE+-]+)\s+text = "((?:[^"]|"")*)"', item
                )
            ]
    raise ValueError(f"{path}: no tier {tier!r}")


def reference_phones(path: Path) -> list[tuple[str, float, float]]:
    """The phones tier with stress digits dropped, lower case, silences as "sil"."""
    phones = []
    for label, start, end in read_textgrid_tier(path, "phones"):
        name = re.sub(r"\d", "", label).lower()
        phones.append(("sil" if name in REFERENCE_SILENCES else name, start, end))
    return phones


def frame_labels(phones, num_frames: int, rate: int) -> list[str]:
    """The phone sounding at each frame centre ((i + 0.5) / rate seconds); "sil" outside."""
    labels = ["sil"] * num_frames
    for name, start, end in phones:
        first, last = int(np.ceil(start * rate - 0.5)), int(np.ceil(end * rate - 0.5))
        for i in range(max(first, 0), min(last, num_frames)):
            labels[i] = name
    return labels


class Reference(NamedTuple):
    """One recording to align: its name, audio file, transcript and reference phones (name, start_s, end_s)."""

    name: str
    audio: Path
    text: str
    phones: list[tuple[str, float, float]]


def textgrid_references(data: Path, limit: int | None = None) -> tuple[list[Reference], list[str]]:
    """DIR's index.tsv rows with their TextGrid phones -> (references, "file: reason" of rows without one)."""
    with open(data / "index.tsv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))[:limit]
    references, missing = [], []
    for row in rows:
        grid = data / "TextGrid" / (Path(row["file"]).stem + ".TextGrid")
        if grid.is_file():
            references.append(Reference(row["file"], data / row["file"], row["text"], reference_phones(grid)))
        else:
            missing.append(f"{row['file']}: no reference TextGrid")
    return references, missing


def festival_references(corpus: Path, emotion: str = "neutral", limit: int | None = None) -> list[Reference]:
    """A synthetic corpus' clips of `emotion` ("all": every clip) with the phone times festival reports."""
    import json

    from data_pipelines.sources.pronunciations import FESTIVAL_TO_ARPABET
    from data_pipelines.sources.synth_corpus import read_corpus
    from voiceemo_jax.errors import UserError

    description = read_corpus(corpus)
    if emotion != "all" and emotion not in description["emotions"]:
        raise UserError(f"--emotion {emotion}: the corpus has {', '.join(description['emotions'])} (or all)")
    texts = {int(s["id"]): s["text"] for s in description["sentences"]}
    names = {**{k: v.lower() for k, v in FESTIVAL_TO_ARPABET.items()}, "pau": "sil"}
    references = []
    for clip in description["clips"]:
        if emotion not in ("all", clip["emotion"]):
            continue
        if "phones" not in clip:
            raise UserError(f"{corpus}: clip {clip.get('wav')} has no phone times (regenerate the corpus)")
        phones = json.loads((corpus / clip["phones"]).read_text())["phones"]
        reference = [(names.get(p["phone"], p["phone"]), float(p["start"]), float(p["end"])) for p in phones]
        references.append(Reference(clip["wav"], corpus / clip["wav"], texts[int(clip["sentence"])], reference))
    return references[:limit]


def evaluate(references: list[Reference], source: str, failed: list[str] | None = None) -> dict:
    """Aligns every reference's audio to its text -> the results (`failed`: rows already left out)."""
    from data_pipelines.sources import speech_alignment
    from voiceemo_jax.audio import load_audio

    aligner = speech_alignment.Aligner()
    failed = list(failed or [])
    errors, matched, reference_count = [], 0, 0
    agree = {name: [0, 0, 0, 0] for name in FRAME_RATES}  # equal, frames, equal on speech, speech frames
    seconds = align_seconds = 0.0
    for item in references:
        reference = item.phones
        audio = load_audio(item.audio)
        start = time.perf_counter()
        try:
            hypothesis = aligner.align(audio, item.text).phones
        except speech_alignment.AlignmentError as error:
            failed.append(f"{item.name}: {error}")
            continue
        align_seconds += time.perf_counter() - start
        seconds += len(audio) / speech_alignment.SAMPLE_RATE_HZ
        clip_errors, clip_matched, clip_reference = speech_alignment.boundary_errors(hypothesis, reference)
        errors.append(clip_errors)
        matched += clip_matched
        reference_count += clip_reference
        for name, rate in FRAME_RATES.items():
            frames = int(np.ceil(len(audio) / speech_alignment.SAMPLE_RATE_HZ * rate))
            hyp, ref = frame_labels(hypothesis, frames, rate), frame_labels(reference, frames, rate)
            equal = [h == r for h, r in zip(hyp, ref)]
            speech = [r != "sil" for r in ref]
            counts = agree[name]
            counts[0] += sum(equal)
            counts[1] += frames
            counts[2] += sum(e and s for e, s in zip(equal, speech))
            counts[3] += sum(speech)
    if not errors:
        raise SystemExit(f"aligner_quality: no clip aligned in {source}: {failed[:3]}")
    signed = np.concatenate(errors)
    absolute_ms = np.abs(signed) * 1000.0
    return {
        "data": source,
        "clips": len(errors),
        "failed": failed,
        "audio_seconds": round(seconds, 2),
        "align_seconds_per_audio_second": round(align_seconds / seconds, 4),
        "phones_matched": matched,
        "reference_phones": reference_count,
        "boundaries": int(signed.size),
        "boundary_error_ms": {
            "median": round(float(np.median(absolute_ms)), 1),
            "p90": round(float(np.percentile(absolute_ms, 90)), 1),
            "mean": round(float(absolute_ms.mean()), 1),
            "bias": round(float(signed.mean() * 1000.0), 1) + 0.0,  # + 0.0: no "-0.0"
            "within_20ms": round(float((absolute_ms <= 20.0).mean()), 3),
            "within_50ms": round(float((absolute_ms <= 50.0).mean()), 3),
        },
        "frame_agreement": {
            name: {"all": round(c[0] / c[1], 3), "speech": round(c[2] / c[3], 3)} for name, c in agree.items()
        },
    }


def table(result: dict) -> str:
    b, f = result["boundary_error_ms"], result["frame_agreement"]
    return "\n".join([
        f"{result['clips']} clips, {result['audio_seconds']} s, {result['phones_matched']}/"
        f"{result['reference_phones']} reference phones matched by label, {len(result['failed'])} failed",
        "| boundary error (ms) | median | p90 | mean | bias | <= 20 ms | <= 50 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {result['boundaries']} boundaries | {b['median']} | {b['p90']} | {b['mean']} | {b['bias']:+} | "
        f"{b['within_20ms']:.1%} | {b['within_50ms']:.1%} |",
        "| frame phone agreement | all frames | speech frames |",
        "| --- | ---: | ---: |",
        *[f"| {name} | {v['all']:.1%} | {v['speech']:.1%} |" for name, v in f.items()],
    ])  # fmt: skip


def main(argv=None) -> int:
    parser = results_parser(__doc__)
    reference = parser.add_mutually_exclusive_group(required=True)
    reference.add_argument("--data", type=Path, help="folder with index.tsv and TextGrid/ (e.g. LJSpeech's)")
    reference.add_argument("--festival", type=Path, metavar="CORPUS", help="a `voiceemo data synth` corpus folder")
    parser.add_argument("--emotion", default="neutral", help="with --festival: the clips of this emotion, or all")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    args = parser.parse_args(argv)
    if args.data is not None:
        if not (args.data / "index.tsv").is_file():
            print(f"aligner_quality: error: {args.data} has no index.tsv", file=sys.stderr)
            return 2
        references, failed = textgrid_references(args.data, args.limit)
        result = evaluate(references, shown_path(args.data), failed)
    else:
        from voiceemo_jax.errors import UserError

        try:
            references = festival_references(args.festival, args.emotion, args.limit)
        except UserError as error:
            print(f"aligner_quality: error: {error}", file=sys.stderr)
            return 2
        result = evaluate(references, f"{shown_path(args.festival)} (festival's phone times, {args.emotion} clips)")
    return print_and_write(result, table(result), args.json)


if __name__ == "__main__":
    sys.exit(main())
