"""benchmarks/demo_recipe.py: it times the recipe configs/demo.py documents (the one README shows),
runs commands in order in its folder, stops at a failing one, and compares trained parameters."""

import json
import re
from pathlib import Path

import pytest

from benchmarks import demo_recipe
from voiceemo_jax import checkpoint_io
from voiceemo_jax.testing.random_models import random_model

ROOT = Path(__file__).resolve().parents[2]


def _readme_recipe() -> list[str]:
    """The bash block under README's "The demo model" that trains it, comments dropped."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    block = next(b for b in blocks if "configs/emotion_encoder.py" in b and "data synth" in b)
    return [" ".join(line.split("#")[0].split()) for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_timed_commands_are_the_recipe_readme_shows():
    commands = demo_recipe.recipe_commands()
    assert len(commands) == 7
    assert commands[0].startswith("voiceemo data synth") and "REAL" in commands[2]
    assert commands[-1].startswith("voiceemo train --config configs/demo.py")
    assert [" ".join(c.split()) for c in commands] == _readme_recipe()
    # Only indented command lines count, not prose mentioning a command.
    text = "Run voiceemo data synth first:\n\n    voiceemo data synth --out c\n    python -m x --data REAL\n"
    assert demo_recipe.recipe_commands(text) == ["voiceemo data synth --out c", "python -m x --data REAL"]


def test_commands_run_in_order_in_the_folder_and_a_failure_stops_the_run(tmp_path):
    data = tmp_path / "real.json"
    data.write_text(json.dumps({"ok": 1}))
    work = tmp_path / "work"
    commands = ["python -m json.tool REAL copy.json", "python -m json.tool copy.json again.json"]
    steps = demo_recipe.run_recipe(commands, work, data=data)
    assert [s["command"] for s in steps] == commands
    assert json.loads((work / "again.json").read_text()) == {"ok": 1}
    assert (work / "configs" / "demo.py").is_file()  # the link the recipe's --config paths go through
    with pytest.raises(SystemExit) as stopped:
        demo_recipe.run_recipe(["python -m json.tool no.json", "python -m json.tool REAL later.json"], work, data=data)
    assert stopped.value.code != 0 and not (work / "later.json").exists()


def test_the_comparison_is_zero_for_the_same_parameters_and_finds_a_change(tmp_path):
    model = random_model("tiny", seed=0)
    first = checkpoint_io.save_model(model, tmp_path / "a")
    assert demo_recipe.largest_difference(first, first) == 0.0
    other = checkpoint_io.save_model(random_model("tiny", seed=1), tmp_path / "b")
    assert demo_recipe.largest_difference(first, other) > 0.0


def test_a_used_folder_or_a_missing_corpus_is_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit):
        demo_recipe.main(["--data", str(tmp_path), "--workdir", str(tmp_path / "w")])
    assert "no tess/index.tsv" in capsys.readouterr().err
    for corpus in ("tess", "ravdess"):
        (tmp_path / corpus).mkdir()
        (tmp_path / corpus / "index.tsv").write_text("file\tspeaker\ttext\n")
    (tmp_path / "w" / "runs").mkdir(parents=True)
    with pytest.raises(SystemExit):
        demo_recipe.main(["--data", str(tmp_path), "--workdir", str(tmp_path / "w")])
    assert "holds an earlier run" in capsys.readouterr().err
