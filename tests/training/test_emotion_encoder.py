"""The emotion-encoder pre-training stage (`voiceemo train --config configs/emotion_encoder.py`):
random crops come from inside their clips, only the emotion encoder differs from a fresh
model, the output is a normal model folder the main training can start from, and an existing
one is refused."""

from __future__ import annotations

import numpy as np
import pytest

from voiceemo_jax import checkpoint_io
from voiceemo_jax.cli import main
from voiceemo_jax.training import emotion_encoder, initialization, model_setup
from voiceemo_jax.training.config_loading import load_config


def test_random_crops_are_windows_of_their_clips():
    clips = [np.arange(10, dtype=np.float32), np.arange(100, 130, dtype=np.float32)]
    audio, lengths = emotion_encoder.random_crops(clips, np.random.default_rng(0), np.array([0, 1, 1]), 16)
    assert audio.shape == (3, 16) and lengths.tolist() == [10, 16, 16]
    np.testing.assert_array_equal(audio[0, :10], clips[0])
    assert not audio[0, 10:].any()
    for row in audio[1:]:
        start = int(row[0]) - 100
        np.testing.assert_array_equal(row, clips[1][start : start + 16])


def test_silence_trimming_keeps_the_sound_and_never_empties_a_clip():
    rng = np.random.default_rng(0)
    quiet = rng.normal(0, 1e-4, 8000).astype(np.float32)
    voice = (0.3 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    trimmed = emotion_encoder.trim_silence(np.concatenate([quiet, voice, quiet]))
    assert 16000 <= len(trimmed) <= 16000 + 2 * 1024  # the silence is gone (to within one analysis frame)
    assert emotion_encoder.trim_silence(quiet[:2000]).shape == (2000,)  # nothing but silence: kept whole


def test_balanced_sampling_gives_every_emotion_the_same_share():
    targets = np.array([0] * 90 + [1] * 9 + [2])
    p = emotion_encoder.sampling_weights(targets, True)
    np.testing.assert_allclose([p[targets == k].sum() for k in range(3)], 1 / 3)
    assert emotion_encoder.sampling_weights(targets, False) is None


def test_speaker_balanced_sampling_gives_every_speaker_of_an_emotion_the_same_share():
    targets = np.array([0] * 90 + [1] * 10)
    speakers = np.array([0] * 80 + [1] * 10 + [2] * 10)  # emotion 0: a speaker with 80 clips, one with 10
    p = emotion_encoder.sampling_weights(targets, True, speakers)
    np.testing.assert_allclose([p[speakers == s].sum() for s in range(3)], [1 / 4, 1 / 4, 1 / 2])
    np.testing.assert_allclose(p[:80], p[0]) and np.testing.assert_allclose(p[80:90], p[80])
    q = emotion_encoder.sampling_weights(targets, False, speakers)  # speakers alone: a third each
    np.testing.assert_allclose([q[speakers == s].sum() for s in range(3)], 1 / 3)


def test_speaker_groups_give_every_corpus_of_a_merged_build_the_same_share():
    names = ("voiceemo_synth/kal", "voiceemo_synth/kal_high", "voiceemo_speech/ravdess_01",
             "voiceemo_speech/ravdess_02", "voiceemo_speech/tess_OAF", "voiceemo_speech/lj")  # fmt: skip
    speakers = np.array([0] * 50 + [1] * 50 + [2] * 5 + [3] * 5 + [4] * 40 + [5] * 10)
    groups, unmatched = emotion_encoder.speaker_groups(speakers, names, "voiceemo_synth/*, */ravdess_*,*/tess_*")
    assert unmatched == []
    assert len(np.unique(groups)) == 4  # synth, RAVDESS, TESS, and the unmatched speaker alone
    assert len(np.unique(groups[:100])) == 1 and len(np.unique(groups[100:110])) == 1
    p = emotion_encoder.sampling_weights(np.zeros(len(speakers), np.int32), True, groups)
    np.testing.assert_allclose([p[groups == g].sum() for g in np.unique(groups)], 1 / 4)
    alone, unmatched = emotion_encoder.speaker_groups(speakers, names, "*/ravdes_*")  # a typo: reported
    assert unmatched == ["*/ravdes_*"] and len(np.unique(alone)) == len(names)  # every speaker its own group


def test_crop_augmentation_is_seeded_and_keeps_shapes():
    from data_pipelines.loading.augmentation import AugmentOptions

    rng = np.random.default_rng(1)
    audio = rng.normal(0, 0.1, (3, 8000)).astype(np.float32)
    lengths = np.array([8000, 8000, 5000], np.int32)
    audio[2, 5000:] = 0
    options = AugmentOptions(speed_probability=1.0, noise_probability=1.0)
    a, n = emotion_encoder.augmented(audio, lengths, 0, 5, options)
    b, m = emotion_encoder.augmented(audio, lengths, 0, 5, options)
    c, _ = emotion_encoder.augmented(audio, lengths, 0, 6, options)
    assert a.shape == audio.shape and np.array_equal(a, b) and np.array_equal(n, m)
    assert not np.allclose(a, audio) and not np.allclose(a, c)
    assert not a[2, n[2] :].any()  # padding stays zero


def test_the_config_trains_the_demo_models_encoder_and_names_what_demo_starts_from():
    config = load_config("configs/emotion_encoder.py")
    assert config.task == "emotion_encoder" and config.model.size == "demo" and config.train.num_steps == 3000
    assert load_config("configs/demo.py").init_from == f"runs/demo/{emotion_encoder.OUTPUT_FOLDER}"
    # The shipped recipe: demo.py's emotion_stage and data options, a log-mel encoder, no augmentation.
    assert config.model.emotion_frontend == "logmel_cnn" and config.train.per_process_batch_size == 32
    assert config.train.learning_rate == 2e-3 and config.data.crop_seconds == 1.6
    assert config.train.eval_every == 3000  # validated at the end only: the last step is kept
    demo = load_config("configs/demo.py")
    assert demo.loss.mouth_opening == 1.0 and demo.data.keep_in_memory
    assert config.data.trim_silence and config.data.balance_emotions and not config.data.augment
    assert config.data.balance_groups == "voiceemo_synth/*,*/ravdess_*,*/tess_*"
    # The demo model's content encoder has a log-mel front end (the stage writes a wav2vec2 one:
    # test_both_stages_train_a_log_mel_emotion_encoder).
    assert config.model.content_frontend == "logmel_cnn"
    tiny = load_config("configs/emotion_encoder.py:tiny,steps=7")  # a config without emotion_stage: the defaults
    assert tiny.train.num_steps == 7 and tiny.train.per_process_batch_size == 16 and tiny.data.crop_seconds == 2.0
    assert tiny.train.eval_every == 250
    assert not tiny.data.balance_groups
    real = load_config("configs/emotion_encoder.py:real_speech,augment_speed=0")
    assert real.data.trim_silence and real.data.balance_emotions and real.data.augment
    assert real.model.emotion_frontend == "wav2vec2" and real.train.num_steps == 3500  # the recipe as measured
    assert real.data.augment_options.speed_probability == 0.0 and real.init_from == ""
    wide = load_config("configs/emotion_encoder.py:real_speech,speed_range=0.8:1.25").data.augment_options
    assert tuple(wide.speed_factor) == (0.8, 1.25) and wide.speed_probability == 0.5  # the default probability
    with pytest.raises(Exception, match="speed_range must be LO:HI"):
        load_config("configs/emotion_encoder.py:real_speech,speed_range=0.8")
    main_stage = load_config("configs/real_speech.py")
    assert main_stage.init_from == f"runs/real_speech/{emotion_encoder.OUTPUT_FOLDER}" and main_stage.data.self_pairs
    with pytest.raises(Exception, match="not a model config"):
        load_config("configs/emotion_encoder.py:no_such_config")


def test_pretraining_changes_only_the_emotion_encoder_and_writes_a_model(fixture_build, param_leaves, tmp_path, capsys):
    from data_pipelines.records.schema import load_metadata

    workdir = tmp_path / "run"
    data = ["--config.data.fixture=false", f"--config.data.dir={fixture_build}"]  # the session's build
    argv = ["train", "--config", "configs/emotion_encoder.py:tiny", "--workdir", str(workdir), *data]
    argv += ["--config.train.num_steps=30"]
    assert main(argv + ["--config.train.seed=3"]) == 0
    printed = capsys.readouterr().out
    assert "best validation accuracy" in printed
    # A progress line every train.log_every (10) steps between validations (tiny's: at the end only).
    progress = [line.split()[2] for line in printed.splitlines() if "steps/s" in line]
    assert progress == ["10/30", "20/30"], printed
    out = workdir / "emotion_encoder"
    model, meta = checkpoint_io.load_model(out)
    assert meta["source"]["kind"] == "voiceemo-emotion-encoder" and meta["source"]["best_step"] == 30
    config = load_config("configs/tiny.py")
    fresh = initialization.new_model(
        model_setup.build_model_config(config, load_metadata(fixture_build)), 3, **model_setup.model_kwargs(config)
    )
    old, new = param_leaves(fresh), param_leaves(model)
    assert old.keys() == new.keys()
    changed = {k for k in old if not np.array_equal(old[k], new[k])}
    assert changed and all(k.startswith("['emotion_encoder']") for k in changed), changed
    assert any("classifier" in k for k in changed) and any("feature_extractor" in k for k in changed)
    # An existing folder is refused and left as it was.
    before = sorted(p.name for p in out.rglob("*"))
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before
    # init_from: the stage fine-tunes that model's emotion encoder; every other part comes from it unchanged.
    tuned = tmp_path / "tuned"
    args = ["train", "--config", "configs/emotion_encoder.py:tiny", "--workdir", str(tuned), *data]
    assert main(args + ["--config.train.num_steps=5", "--config.train.seed=4", f"--config.init_from={out}"]) == 0
    assert f"initialised {len(new)} parameters from {out}" in capsys.readouterr().out
    again, meta = checkpoint_io.load_model(tuned / "emotion_encoder")
    assert meta["source"]["init_from"] == str(out)
    moved = {k for k, v in param_leaves(again).items() if not np.array_equal(new[k], v)}
    assert moved and all(k.startswith("['emotion_encoder']") for k in moved), moved


def test_the_stage_refuses_pauses_which_have_no_emotion(fixture_build, tmp_path, capsys):
    argv = ["train", "--config", "configs/emotion_encoder.py:tiny", "--workdir", str(tmp_path / "run"),
            "--config.data.fixture=false", f"--config.data.dir={fixture_build}", "--config.train.num_steps=2",
            "--config.data.augment=true", "--config.data.augment_options.silence_probability=0.5"]  # fmt: skip
    assert main(argv) == 2
    assert "cannot augment with pauses" in capsys.readouterr().err
    assert not (tmp_path / "run" / emotion_encoder.OUTPUT_FOLDER).exists()


def test_validation_accuracy_is_reported_per_source_of_a_merged_build():
    names = ("voiceemo_synth/kal", "voiceemo_speech/ravdess_17", "voiceemo_speech/tess_OAF")
    sources = emotion_encoder.source_names(np.array([0, 0, 1, 2]), names)
    assert sources.tolist() == ["voiceemo_synth", "voiceemo_synth", "voiceemo_speech", "voiceemo_speech"]
    correct = np.array([True, False, True, True])
    assert emotion_encoder.by_source(correct, sources) == {"voiceemo_speech": 1.0, "voiceemo_synth": 0.5}
    assert emotion_encoder.by_source(correct, emotion_encoder.source_names(np.zeros(4, int), ("s0",))) == {}


def test_both_stages_train_a_log_mel_emotion_encoder(fixture_build, param_leaves, tmp_path, capsys):
    """model.emotion_frontend=logmel_cnn through the emotion stage and the main stage (which starts
    from it with the emotion encoder frozen), both also given model.content_frontend=logmel_cnn, as
    the demo recipe: the encoder learns in the first, stays as it is in the second; the stage writes a
    wav2vec2 content encoder, the main stage trains its log-mel one, and the final model loads and
    predicts."""
    import jax.numpy as jnp

    data = ["--config.data.fixture=false", f"--config.data.dir={fixture_build}"]
    data += ["--config.model.emotion_frontend=logmel_cnn", "--config.model.content_frontend=logmel_cnn"]
    stage = tmp_path / "run"
    argv = ["train", "--config", "configs/emotion_encoder.py:tiny", "--workdir", str(stage), *data]
    assert main(argv + ["--config.train.num_steps=20", "--config.train.eval_every=10"]) == 0
    encoder, _ = checkpoint_io.load_model(stage / "emotion_encoder")
    assert encoder.config.emotion_cnn is not None and encoder.config.content_cnn is None
    trained = param_leaves(encoder)
    assert any(k.startswith("['emotion_encoder']['cnn']") for k in trained)

    main_args = ["train", "--config", "configs/tiny.py", "--workdir", str(tmp_path / "main"), *data]
    main_args += ["--config.train.num_steps=3", f"--config.init_from={stage / 'emotion_encoder'}"]
    main_args += ["--config.model.freeze_emotion_encoder=true", "--config.train.eval_every=3"]
    assert main(main_args) == 0, capsys.readouterr().err
    final, _ = checkpoint_io.load_model(tmp_path / "main" / "model")
    assert final.config.content_cnn is not None
    after = param_leaves(final)
    assert any(k.startswith("['content_encoder']['cnn']") for k in after)
    frozen = [k for k in trained if k.startswith("['emotion_encoder']")]
    assert all(np.array_equal(trained[k], after[k]) for k in frozen)
    assert any(not np.array_equal(trained[k], after[k]) for k in after if k.startswith("['morph_synthesizer']"))
    out = final(jnp.zeros((1, 16000)), jnp.asarray([16000]), jnp.zeros(1, int), jnp.zeros(1, int))
    assert out["outputs"].shape[:2] == (1, 30) and np.all(np.isfinite(np.asarray(out["outputs"])))


def test_the_moving_average_ramps_up_to_its_decay():
    zeros, ones = {"w": np.zeros(3, np.float32)}, {"w": np.ones(3, np.float32)}
    first = emotion_encoder.averaged(zeros, ones, 0.9, 1)  # rate min(0.9, 2/11): mostly the new step
    np.testing.assert_allclose(np.asarray(first["w"]), 1.0 - 2.0 / 11.0, rtol=1e-6)
    late = emotion_encoder.averaged(zeros, ones, 0.9, 1000)  # rate 0.9
    np.testing.assert_allclose(np.asarray(late["w"]), 0.1, rtol=1e-5)


def test_the_stage_keeps_the_moving_average_when_asked(fixture_build, param_leaves, tmp_path, capsys):
    """Same seed and steps: with ema_decay the written encoder is the average, not the last step,
    and the model's provenance says so; a decay outside [0, 1) is a one-line error."""
    data = ["--config.data.fixture=false", f"--config.data.dir={fixture_build}"]
    common = ["--config.train.num_steps=6", "--config.train.eval_every=6", "--config.train.seed=5"]
    runs = {}
    for name, decay in (("plain", 0.0), ("ema", 0.8)):
        argv = ["train", "--config", "configs/emotion_encoder.py:tiny", "--workdir", str(tmp_path / name), *data]
        assert main(argv + common + [f"--config.train.ema_decay={decay}"]) == 0
        runs[name] = checkpoint_io.load_model(tmp_path / name / "emotion_encoder")
    plain, averaged = (param_leaves(runs[n][0]) for n in ("plain", "ema"))
    encoder = [k for k in plain if k.startswith("['emotion_encoder']")]
    assert any(not np.allclose(plain[k], averaged[k]) for k in encoder)
    assert all(np.array_equal(plain[k], averaged[k]) for k in plain if k not in encoder)
    assert runs["ema"][1]["source"]["ema_decay"] == 0.8 and runs["plain"][1]["source"]["ema_decay"] == 0.0
    capsys.readouterr()
    argv = ["train", "--config", "configs/emotion_encoder.py:tiny", "--workdir", str(tmp_path / "bad"), *data]
    assert main(argv + ["--config.train.ema_decay=1.0"]) == 2
    assert "ema_decay must be in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "emotion_encoder").exists()
