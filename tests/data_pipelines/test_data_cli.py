"""`voiceemo data` as a command: light import, inspect's report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from voiceemo_jax.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_the_command_module_imports_no_tensorflow():
    heavy = "any(m.split('.')[0] in ('tensorflow', 'jax') for m in sys.modules)"
    code = f"import sys, data_pipelines.cli; sys.exit(int({heavy}))"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_data_build_and_inspect_are_registered(capsys):
    for argv in (["data", "--help"], ["data", "build", "--help"], ["data", "inspect", "--help"]):
        try:
            main(argv)
        except SystemExit as exit:
            assert exit.code == 0
    out = capsys.readouterr().out
    assert "--audio-root" in out and "--strict" in out and "{ravdess,mead,vocaset,synth,speech}" in out


def test_inspect_prints_counts_histograms_and_batch_shapes(ravdess_build, capsys):
    assert main(["data", "inspect", str(ravdess_build.out)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^train\s+28\s+2\b", out, re.M) and re.search(r"^validation\s+14\s+1\b", out, re.M)
    assert re.search(r"^test\s+14\s+1\b", out, re.M)
    assert "skipped 5" in out
    # Emotion histogram: neutral has one intensity, so 2 clips per actor; happy 4.
    assert re.search(r"^neutral\s+4\s+2\s+2$", out, re.M) and re.search(r"^happy\s+8\s+4\s+4$", out, re.M)
    assert re.search(r"^Actor_21\s+0\s+14\s+0$", out, re.M)
    assert re.search(r"x11\.audio\s+\[2, 32000\]\s+float32", out)
    assert re.search(r"x21\.targets\s+\[2, 60, 52\]\s+float32", out)


def test_inspect_of_a_missing_build_is_a_one_line_error(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a dataset build" in err[0]
