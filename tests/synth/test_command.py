"""`voiceemo data synth`: argument parsing, the --hours rule, and one-line errors for bad input."""

from __future__ import annotations

import argparse
import json

import pytest

from data_pipelines.sources.synth import command, festival_tts, generate
from data_pipelines.sources.synth.sentences import SENTENCES
from tests.synth.conftest import needs_festival
from voiceemo_jax.errors import UserError


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voiceemo data")
    command.register(parser.add_subparsers(dest="data_command"))
    return parser.parse_args(["synth", *argv])


def test_register_adds_synth_with_defaults():
    args = _parse("--out", "corpus")
    assert (args.out, args.hours, args.seed, args.levels) == ("corpus", command.DEFAULT_HOURS, 0, "alternate")
    assert args.handler is command.run_synth
    args = _parse("--hours", "1")
    with pytest.raises(UserError, match="--out DIR is required"):
        args.handler(args)


def test_hours_rule():
    # Default: 6 voices x 7 emotions at 3.0 s per clip -> 1.5 h is 43 sentences (1806 clips).
    assert len(generate.sentences_for_hours(1.5, 6, 7)) == 43
    assert generate.sentences_for_hours(0.01, 6, 7) == list(range(generate.MIN_SENTENCES))
    assert len(generate.sentences_for_hours(100, 6, 13)) == len(SENTENCES)
    assert generate.clips_per_voice_sentence(["sad", "neutral"], "both") == 3
    assert generate.clips_per_voice_sentence(list(generate.prosody.EMOTIONS), "alternate") == 7


def test_levels_alternate_over_sentences_and_voices():
    first = dict(generate.conditions_for(0, 0, ["angry", "neutral"], "alternate"))
    second = dict(generate.conditions_for(1, 0, ["angry", "neutral"], "alternate"))
    other_voice = dict(generate.conditions_for(0, 1, ["angry", "neutral"], "alternate"))
    assert first["angry"] != second["angry"] and first["angry"] != other_voice["angry"]
    assert first["neutral"] == second["neutral"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--hours", "0"), "--hours must be a positive number"),
        (("--hours", "nan"), "--hours must be a positive number"),
        (("--seed", "-1"), "--seed must be >= 0"),
        (("--workers", "0"), "--workers must be >= 1"),
        (("--voices", "kal,robot"), "unknown voice"),
        (("--voices", ","), "--voices is empty"),
        (("--emotions", "happy,bored"), "unknown emotion"),
        (("--sentences", "1,two"), "comma-separated integers"),
        (("--sentences", "5,999"), "outside 0..221"),
    ],
)
def test_bad_input_is_a_user_error(tmp_path, argv, message):
    args = _parse("--out", str(tmp_path / "c"), *argv)
    with pytest.raises(UserError, match=message):
        args.handler(args)
    assert not (tmp_path / "c").exists()


def test_missing_festival_names_the_debian_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(festival_tts.shutil, "which", lambda name: None)
    args = _parse("--out", str(tmp_path / "c"), "--sentences", "0")
    with pytest.raises(
        UserError, match="apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
    ):
        args.handler(args)


def test_list_voices(capsys):
    args = _parse("--list-voices")  # needs no --out
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and sum("(held out)" in line for line in lines) == 1


@needs_festival
def test_end_to_end_through_the_handler(tmp_path, capsys):
    out = tmp_path / "corpus"
    args = _parse("--out", str(out), "--voices", "slt", "--emotions", "neutral,happy", "--sentences", "3",
                  "--levels", "both", "--workers", "1")  # fmt: skip
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "corpus: " in printed and "3 clips" in printed and "s of audio per second" in printed
    corpus = json.loads((out / "corpus.json").read_text())
    assert {(c["emotion"], c["level"]) for c in corpus["clips"]} == {("neutral", 1), ("happy", 1), ("happy", 2)}
    assert args.handler(args) == 0
    assert "already complete" in capsys.readouterr().out
