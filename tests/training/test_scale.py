"""The same train steps on 1 device and on 8 simulated devices (data-parallel and data x fsdp):
same losses and parameters after several plain-SGD steps without warm-up (the parameters move
far more than the tolerance, and a sum instead of a mean over devices would double every step).
Two processes with jax.distributed are tested the same way, through `voiceemo train` and the real
data pipeline, in test_multiprocess.py."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from subprocesses import ROOT, subprocess_env

pytestmark = pytest.mark.heavy  # scheduled first (conftest.py)

SCRIPT = Path(__file__).with_name("sharded_step.py")
# fp32 reductions are reordered across devices; differences stay at rounding level.
ATOL = 2e-5


def _run(args, devices: int, timeout: int = 600):
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], env=subprocess_env(devices), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _finish(process, timeout=900):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]


def _load(prefix, mesh):
    params = dict(np.load(f"{prefix}_{mesh}.npz"))
    info = json.loads(Path(f"{prefix}_{mesh}.json").read_text())
    return params, info


def _assert_same(a, b):
    params_a, info_a = a
    params_b, info_b = b
    np.testing.assert_allclose(info_a["losses"], info_b["losses"], rtol=1e-5)
    assert info_a["moved"] > 100 * ATOL and info_b["moved"] > 100 * ATOL  # the steps really trained
    assert params_a.keys() == params_b.keys()
    worst = max(float(np.abs(params_a[k] - params_b[k]).max()) for k in params_a)
    assert worst <= ATOL, worst


@pytest.fixture(scope="module")
def single_and_sharded(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("scale") / "run"
    _finish(_run(["--mesh", "1x1,8x1,4x2", "--steps", "4", "--out", str(prefix)], devices=8))
    return prefix


def test_data_parallel_and_fsdp_match_one_device(single_and_sharded):
    one = _load(single_and_sharded, "1x1")
    assert one[1]["devices"] == 1
    # The steps must actually train: the loss is finite and falls.
    assert all(np.isfinite(one[1]["losses"])) and one[1]["losses"][-1] < one[1]["losses"][0]
    for mesh in ("8x1", "4x2"):
        sharded = _load(single_and_sharded, mesh)
        assert sharded[1]["devices"] == 8
        _assert_same(one, sharded)
