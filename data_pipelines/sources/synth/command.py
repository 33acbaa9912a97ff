"""`voiceemo data synth`: writes the offline synthetic emotional speech corpus.

`register(data_subparsers)` is called by `data_pipelines/cli.py` (the `voiceemo data`
command). Only argparse-level imports live at module scope so `voiceemo --help` stays
instant; numpy, librosa and festival are touched inside the handler.
"""

from __future__ import annotations

import argparse

DEFAULT_HOURS = 1.5
DEFAULT_SEED = 0


def register(data_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = data_subparsers.add_parser(
        "synth",
        help="synthesise the offline emotional speech corpus (festival TTS + ARKit targets)",
        description=(
            "Synthesise an emotional speech corpus with festival (voices kal_diphone, ked_diphone, "
            "cmu_us_slt_arctic_hts plus pitch/formant variants) and write phone-timed 52-channel ARKit "
            "targets at 30 fps. Every voice speaks every chosen sentence in all 7 emotions (angry, disgust, "
            "fear, happy, neutral, sad, surprise); the level (1 or 2) alternates between sentences, or "
            "--levels both speaks both. --hours sets the amount of audio: the number of sentences is "
            "hours * 3600 / (voices * conditions per sentence * 3.0 s), at least 10, at most all. "
            "Output: DIR/corpus.json, DIR/wav|targets|phones/<voice>/<emotion>/level_<n>/<sentence>.* . "
            "Re-running over the same DIR with the same seed keeps finished clips (adding missing ones, removing "
            "ones no longer planned); another seed rebuilds it. "
            "Needs Debian packages festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts."
        ),
    )
    parser.add_argument("--out", metavar="DIR", help="corpus folder (required; created, or resumed if it exists)")
    parser.add_argument(
        "--hours",
        type=float,
        default=DEFAULT_HOURS,
        metavar="H",
        help=f"approximate hours of audio to synthesise (default {DEFAULT_HOURS})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, metavar="N", help="seeds every random choice (default 0)"
    )
    parser.add_argument(
        "--voices",
        default=None,
        metavar="NAMES",
        help="comma-separated subset of voices (default: all; see --list-voices)",
    )
    parser.add_argument(
        "--emotions",
        default=None,
        metavar="NAMES",
        help="comma-separated subset of the 7 emotions (default: all)",
    )
    parser.add_argument(
        "--sentences",
        default=None,
        metavar="IDS",
        help="comma-separated sentence ids to synthesise instead of the --hours rule (e.g. 0,1,2)",
    )
    parser.add_argument(
        "--levels",
        choices=("alternate", "both"),
        default="alternate",
        help="alternate: one level per emotion, alternating across sentences; both: levels 1 and 2 (default alternate)",
    )
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default: CPU count)")
    parser.add_argument("--list-voices", action="store_true", help="print the voices and exit")
    parser.set_defaults(handler=run_synth)
    return parser


def _parse_list(value: str | None, flag: str) -> list[str] | None:
    if value is None:
        return None
    from voiceemo_jax.errors import UserError

    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise UserError(f"{flag} is empty")
    return items


def run_synth(args: argparse.Namespace) -> int:
    """Validates the flags, runs `generate.synthesise_corpus`, prints where the corpus is and the speed."""
    import math
    import os

    from data_pipelines.sources.synth import generate, prosody
    from data_pipelines.sources.synth.sentences import SENTENCES
    from data_pipelines.sources.synth.voices import VOICES, select_voices
    from voiceemo_jax.errors import UserError

    if args.list_voices:
        for voice in VOICES:
            held = " (held out)" if voice.held_out else ""
            print(f"{voice.name}: festival {voice.festival_voice}, {voice.sex}, pitch {voice.pitch_shift_semitones:+g} "
                  f"semitones, formants x{voice.formant_factor:g}, rate x{voice.rate_factor:g}{held}")  # fmt: skip
        return 0
    if not args.out:
        raise UserError("--out DIR is required")
    if not (math.isfinite(args.hours) and args.hours > 0):
        raise UserError(f"--hours must be a positive number, not {args.hours}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, not {args.seed}")
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    if workers < 1:
        raise UserError(f"--workers must be >= 1, not {workers}")
    try:
        voices = select_voices(_parse_list(args.voices, "--voices"))
    except ValueError as error:
        raise UserError(str(error)) from None
    emotions = _parse_list(args.emotions, "--emotions") or list(prosody.EMOTIONS)
    unknown = [e for e in emotions if e not in prosody.EMOTIONS]
    if unknown:
        raise UserError(f"unknown emotion(s) {', '.join(unknown)}; choose from {', '.join(prosody.EMOTIONS)}")
    emotions = [e for e in prosody.EMOTIONS if e in emotions]
    if args.sentences is not None:
        try:
            sentences = sorted({int(item) for item in _parse_list(args.sentences, "--sentences")})
        except ValueError:
            raise UserError(f"--sentences must be comma-separated integers, not {args.sentences!r}") from None
        bad = [i for i in sentences if not 0 <= i < len(SENTENCES)]
        if bad:
            raise UserError(f"--sentences: id(s) {bad} outside 0..{len(SENTENCES) - 1}")
    else:
        per_sentence = generate.clips_per_voice_sentence(emotions, args.levels)
        sentences = generate.sentences_for_hours(args.hours, len(voices), per_sentence)

    summary = generate.synthesise_corpus(args.out, args.seed, voices, emotions, sentences, args.levels, workers)
    print(f"corpus: {os.path.join(args.out, 'corpus.json')}: {summary.clips} clips, {len(voices)} voices, "
          f"{len(sentences)} sentences")  # fmt: skip
    if summary.synthesised:
        speed = summary.audio_seconds / max(summary.wall_seconds, 1e-9)
        print(f"synthesised {summary.synthesised} clips, {summary.audio_seconds / 3600:.2f} h of audio in "
              f"{summary.wall_seconds:.0f} s with {workers} worker(s): {speed:.1f} s of audio per second")  # fmt: skip
    else:
        print("already complete: nothing to synthesise")
    return 0
