"""The offline forced aligner against reference phone alignments (LJSpeech's Montreal Forced Aligner TextGrids).

    python -m benchmarks.aligner_quality --data ../shared/data/real_speech/ljspeech \
        --json benchmarks/results/aligner_quality.json

DIR holds `index.tsv` (`file`, `speaker`, `text`) and `TextGrid/<file stem>.TextGrid` (tiers
`words` and `phones`, ARPAbet with stress digits, silence as "", `sil`, `sp` or `spn`). Each
recording is aligned to its text by `data_pipelines.sources.speech_alignment` and compared:

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


def evaluate(data: Path, limit: int | None = None) -> dict:
    from data_pipelines.sources import speech_alignment
    from voiceemo_jax.audio import load_audio

    with open(data / "index.tsv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))[:limit]
    aligner = speech_alignment.Aligner()
    errors, matched, reference_count, failed = [], 0, 0, []
    agree = {name: [0, 0, 0, 0] for name in FRAME_RATES}  # equal, frames, equal on speech, speech frames
    seconds = align_seconds = 0.0
    for row in rows:
        grid = data / "TextGrid" / (Path(row["file"]).stem + ".TextGrid")
        if not grid.is_file():
            failed.append(f"{row['file']}: no reference TextGrid")
            continue
        reference = reference_phones(grid)
        audio = load_audio(data / row["file"])
        start = time.perf_counter()
        try:
            hypothesis = aligner.align(audio, row["text"]).phones
        except speech_alignment.AlignmentError as error:
            failed.append(f"{row['file']}: {error}")
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
        raise SystemExit(f"aligner_quality: no clip aligned in {data}: {failed[:3]}")
    signed = np.concatenate(errors)
    absolute_ms = np.abs(signed) * 1000.0
    return {
        "data": shown_path(data),
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
            "bias": round(float(signed.mean() * 1000.0), 1),
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
    parser.add_argument("--data", required=True, type=Path, help="folder with index.tsv and TextGrid/")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    args = parser.parse_args(argv)
    if not (args.data / "index.tsv").is_file():
        print(f"aligner_quality: error: {args.data} has no index.tsv", file=sys.stderr)
        return 2
    result = evaluate(args.data, args.limit)
    return print_and_write(result, table(result), args.json)


if __name__ == "__main__":
    sys.exit(main())
