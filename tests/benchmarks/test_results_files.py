"""benchmarks/__init__.py's shared pieces of the result-writing benchmarks: their parser and ending."""

from __future__ import annotations

import json

from benchmarks import print_and_write, results_parser


def test_the_parser_takes_the_docstrings_first_paragraph_and_a_json_path(tmp_path):
    parser = results_parser("What it measures.\n\n    python -m benchmarks.x\n")
    assert parser.description == "What it measures."
    assert parser.parse_args(["--json", str(tmp_path / "r.json")]).json == tmp_path / "r.json"
    assert parser.parse_args([]).json is None


def test_the_ending_prints_the_table_and_writes_the_results_where_asked(tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "results.json"
    assert print_and_write({"a": [1, 2.5]}, "| a |", out) == 0
    assert capsys.readouterr().out == "| a |\n"
    assert json.loads(out.read_text()) == {"a": [1, 2.5]} and out.read_text().endswith("}\n")
    assert print_and_write({"a": 1}, "| a |", None) == 0
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["results.json"]
