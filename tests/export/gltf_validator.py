"""The Khronos glTF Validator (the npm package `gltf-validator`), run from the tests through node.

The validator is a JavaScript library (compiled from the reference Dart implementation), so a
short node script calls its `validateBytes` on each file and prints the reports as JSON.
It is found in a global install (`npm install -g gltf-validator`, as the README's test
command does) or in a local `node_modules/` at the repository root.

Without node the tests skip locally; under CI (CI=true) a missing node or validator fails,
so a CI machine that lost the install step cannot pass by skipping.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "install it with `npm install -g gltf-validator` (node and npm: apt-get install nodejs npm)"

# argv: the files to check. Prints [{"file", "errors", "warnings", "messages": [...]}] in order.
SCRIPT = r"""
const fs = require("fs");
const validator = require("gltf-validator");
(async () => {
  const reports = [];
  for (const file of process.argv.slice(1)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
      uri: file,
      format: file.toLowerCase().endsWith(".glb") ? "glb" : "gltf",
      maxIssues: 0,  // no limit
    });
    reports.push({
      file,
      version: report.validatorVersion,
      errors: report.issues.numErrors,
      warnings: report.issues.numWarnings,
      messages: report.issues.messages,
    });
  }
  process.stdout.write(JSON.stringify(reports));
})().catch((error) => {
  process.stderr.write(String(error && error.message || error));
  process.exit(2);
});
"""


@functools.lru_cache(maxsize=1)
def _node_env() -> dict[str, str]:
    """The environment with NODE_PATH covering npm's global modules and the repository's node_modules."""
    paths = [str(ROOT / "node_modules")]
    npm = shutil.which("npm")
    if npm is not None:
        result = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60)
        if result.returncode == 0 and result.stdout.strip():
            paths.insert(0, result.stdout.strip())
    existing = os.environ.get("NODE_PATH")
    return {**os.environ, "NODE_PATH": os.pathsep.join([*paths, *([existing] if existing else [])])}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the glTF validator is required under CI: {reason}; {INSTALL}")
    pytest.skip(f"{reason}; {INSTALL}")


def validate(*paths) -> list[dict]:
    """Runs the Khronos validator on glTF/GLB files; one report per file (errors, warnings, messages)."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    command = [node, "-e", SCRIPT, *(str(Path(p).resolve()) for p in paths)]
    result = subprocess.run(command, capture_output=True, text=True, env=_node_env(), cwd=ROOT, timeout=300)
    if result.returncode != 0 and "Cannot find module 'gltf-validator'" in result.stderr:
        # Node is here, so the validator's absence is a broken install, not a machine without node.
        pytest.fail(f"node cannot load the npm package gltf-validator; {INSTALL}")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def assert_valid(*paths) -> None:
    """Every file passes the validator with 0 errors and 0 warnings (infos and hints allowed)."""
    for report in validate(*paths):
        problems = [m for m in report["messages"] if m["severity"] <= 1]  # 0 error, 1 warning
        assert report["errors"] == 0 and report["warnings"] == 0, (Path(report["file"]).name, problems[:10])
