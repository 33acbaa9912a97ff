"""Masks, lengths and resampling against their PyTorch / release definitions."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import Wav2Vec2Config as HFConfig
from transformers import Wav2Vec2Model as HFModel

from voiceemo_jax.models import presets, sequence_ops
from voiceemo_jax.testing.torch_reference import release_alignment_mask, release_biased_mask


@pytest.mark.parametrize(("in_len", "out_len"), [(49, 30), (10, 37), (7, 1), (1, 5), (100, 100), (3, 2)])
def test_linear_resample_matches_torch_align_corners(in_len, out_len):
    rng = np.random.default_rng(in_len * 100 + out_len)
    x = rng.standard_normal((1, in_len, 6)).astype(np.float32)
    expected = F.interpolate(torch.from_numpy(x).transpose(1, 2), size=out_len, mode="linear", align_corners=True)
    expected = expected.transpose(1, 2).numpy()
    got = sequence_ops.linear_resample(jnp.asarray(x), jnp.array([in_len]), jnp.array([out_len]), out_len)
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-6)


def test_linear_resample_batch_items_are_independent_and_zero_padded():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 3)).astype(np.float32)
    b = rng.standard_normal((13, 3)).astype(np.float32)
    batch = np.zeros((2, 20, 3), np.float32)
    batch[0], batch[1, :13] = a, b
    batch[1, 13:] = 99.0  # garbage in the padding must not leak
    got = np.asarray(sequence_ops.linear_resample(jnp.asarray(batch), jnp.array([20, 13]), jnp.array([12, 8]), 12))
    alone = np.asarray(sequence_ops.linear_resample(jnp.asarray(b[None]), jnp.array([13]), jnp.array([8]), 8))
    np.testing.assert_allclose(got[1, :8], alone[0], atol=1e-6)
    assert np.all(got[1, 8:] == 0)


def test_resample_at_times_reads_a_fixed_clock_whatever_the_lengths():
    ramp = np.zeros((2, 40, 1), np.float32)
    ramp[:, :, 0] = np.arange(40)  # each input frame holds its own index
    ramp[1, 25:] = 99.0  # item 1 has 25 valid frames: its padding must not leak
    got = np.asarray(sequence_ops.resample_at_times(jnp.asarray(ramp), jnp.array([40, 25]), jnp.array([12, 9]), 12,
                                                    step=10 / 3, offset=0.5))[..., 0]  # fmt: skip
    clock = np.maximum(np.arange(12) * 10 / 3 - 0.5, 0.0)
    np.testing.assert_allclose(got[0], clock, atol=1e-5)  # output frame f reads f * step - offset
    np.testing.assert_allclose(got[1, :8], clock[:8], atol=1e-5)  # the same clock for a shorter item
    assert got[1, 8] == pytest.approx(24.0) and np.all(got[1, 9:] == 0)  # held at its last frame, zero past 9


@pytest.mark.parametrize(("heads", "length", "period"), [(4, 70, 30), (4, 31, 30), (8, 50, 25), (6, 40, 30)])
def test_periodic_alibi_bias_equals_release_table_and_spec_formula(heads, length, period):
    got = np.asarray(sequence_ops.periodic_alibi_bias(heads, length, period))
    table = release_biased_mask(heads, 600, period)[:, :length, :length].numpy()
    np.testing.assert_allclose(got, table, atol=1e-7)
    slopes = sequence_ops.alibi_slopes(heads)
    i, j = 45 % length, 3 % length
    if j <= i:
        assert got[1, i, j] == pytest.approx(-slopes[1] * math.floor((i - j) / period))
    assert np.isneginf(got[:, 0, 1]).all()


def test_alibi_slopes_for_four_heads():
    np.testing.assert_allclose(sequence_ops.alibi_slopes(4), [1 / 4, 1 / 16, 1 / 64, 1 / 256])


def test_alignment_mask_is_one_to_one():
    got = np.asarray(sequence_ops.alignment_mask(9, 9))
    np.testing.assert_array_equal(got, ~release_alignment_mask(9).numpy())
    assert got.sum() == 9


def test_frames_for_is_exact_ceiling():
    assert sequence_ops.frames_for(16000) == 30
    assert sequence_ops.frames_for(16001) == 31
    assert sequence_ops.frames_for(1) == 1
    assert sequence_ops.frames_for(132800) == 249  # float ceil(132800/16000*30) gives 250
    lengths = np.array([1, 533, 534, 16000, 48001])
    got = np.asarray(sequence_ops.frames_for_array(jnp.asarray(lengths)))
    np.testing.assert_array_equal(got, [sequence_ops.frames_for(n) for n in lengths])


def test_emotion_mid_length_reproduces_release_float_expression():
    t = np.arange(1, 50000)
    got = np.asarray(sequence_ops.emotion_mid_length(jnp.asarray(t)))
    np.testing.assert_array_equal(got, (t / 50 * 30).astype(int))
    assert sequence_ops.emotion_mid_length(205) == 122  # the float quirk: 3*205/5 = 123


def test_conv_output_length_matches_transformers():
    hf = HFModel(HFConfig(**presets.hf_wav2vec2_dict("layer", size="tiny")))
    lengths = torch.tensor([400, 401, 16000, 12345])
    expected = hf._get_feat_extract_output_lengths(lengths).numpy()
    config = presets.model_config("tiny").content
    np.testing.assert_array_equal(config.cnn_frames(lengths.numpy()), expected)
    assert config.receptive_field == 400
    assert config.cnn_frames(399) == 0 and config.cnn_frames(400) == 1


def test_normalize_waveform_matches_hf_per_utterance():
    from voiceemo_jax.testing.torch_reference import hf_normalize

    rng = np.random.default_rng(1)
    a = rng.standard_normal(900).astype(np.float32) * 3 + 1
    batch = np.zeros((2, 1000), np.float32)
    batch[0, :900] = a
    batch[1] = rng.standard_normal(1000)
    got = np.asarray(sequence_ops.normalize_waveform(jnp.asarray(batch), jnp.array([900, 1000])))
    np.testing.assert_allclose(got[0, :900], hf_normalize(a), atol=1e-5)
    assert np.all(got[0, 900:] == 0)
