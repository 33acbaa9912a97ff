"""Multi-process shut-down: `voiceemo train` leaves the job explicitly once training returns
(left to interpreter exit, two local processes waited ~40 s after their last line)."""

from __future__ import annotations

import jax

from voiceemo_jax.cli import main
from voiceemo_jax.training import distributed


def test_shutdown_leaves_a_multi_process_job_and_is_a_no_op_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(jax.distributed, "shutdown", lambda: calls.append("shutdown"))
    distributed.shutdown()
    assert calls == []  # one process: nothing to leave
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    distributed.shutdown()
    assert calls == ["shutdown"]


def test_train_shuts_down_after_training_returns(monkeypatch, tmp_path):
    from voiceemo_jax.training import trainer

    calls = []
    monkeypatch.setattr(trainer, "train_and_evaluate", lambda config, workdir: calls.append("trained") or {})
    monkeypatch.setattr(distributed, "shutdown", lambda: calls.append("shutdown"))
    assert main(["train", "--config", "configs/tiny.py", "--workdir", str(tmp_path)]) == 0
    assert calls == ["trained", "shutdown"]
