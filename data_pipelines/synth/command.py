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
            "hours * 3600 / (voices * conditions per sentence * 2.6 s), at least 10, at most all. "
            "Output: DIR/corpus.json, DIR/wav|targets|phones/<voice>/<emotion>/level_<n>/<sentence>.* . "
            "Re-running over the same DIR resumes when the settings match and rebuilds otherwise. "
            "Needs Debian packages festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="corpus folder (created; resumed if it exists)")
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


def run_synth(args: argparse.Namespace) -> int:
    """Validates the arguments, then hands over to `generate.synthesise_corpus`."""
    from data_pipelines.synth import generate

    return generate.run_from_args(args)
