"""Fixtures shared by the training-stage tests: the learnable fixture build and a flat view of
a model's parameters."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory):
    from data_pipelines.sources.learnable_fixture import ensure_fixture_build

    return ensure_fixture_build(tmp_path_factory.mktemp("training_fixture"))


@pytest.fixture(scope="session")
def param_leaves():
    """model -> {parameter path: array}."""

    def leaves(model):
        flat = jax.tree_util.tree_leaves_with_path(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
        return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in flat}

    return leaves
