"""The demo model fine-tuned on real voices (an experiment: measured, not shipped).

Starts from the synthetic-corpus demo model (configs/demo.py, `init_from`) and trains on one build
that holds the synthetic corpus and real emotional speech (TESS and RAVDESS actors 01-18, force-aligned
phones through the same viseme rules, the emotion's expression overlay; see configs/demo.py for the
commands). Everything trains, the emotion encoder included: its classifier learns the emotions of
real voices from the cross-reconstruction batches (X21's label), while the synthetic clips keep what
it knew. The held-out recordings (`voiceemo_jax.evaluation.held_out_speech`) are never in the build.

    python -m data_pipelines.sources.real_speech_training --data REAL --out speech_train \
        --tess-word-step 6 --ravdess-repetitions 1
    voiceemo data build --dataset speech --root speech_train --out data/speech
    python -m data_pipelines.records.merge --out data/demo_mix data/synth data/speech
    voiceemo train --config configs/real_speech.py --workdir runs/real_speech \
        --config.data.dir=data/demo_mix --config.init_from=runs/demo/model

Measured (BENCHMARKS.md, "Real speech"): 700 steps (26 minutes on a busy 2-core machine) raised
TESS held-out-word emotion from 15% to 32% but left RAVDESS held-out actors at chance (20%), lowered
the LJSpeech open-vowel vs bilabial AUCs and cost synthetic-corpus quality (mouth MAE 0.0248 vs
0.0224), so the shipped model is still runs/demo/model of configs/demo.py.
"""

from configs import demo


def get_config(arg: str | None = None):
    config = demo.get_config(arg)
    config.init_from = "runs/demo/model"
    config.model.freeze_emotion_encoder = False
    config.loss.emotion = 0.5
    config.data.window_speakers = 8  # 26 speakers: more of them per window mixes real and synthetic voices
    config.train.num_steps = 700
    config.train.learning_rate = 3e-4
    config.train.warmup_steps = 50
    config.train.eval_every = 0  # benchmarks/real_speech.py and demo_quality measure it
    config.train.checkpoint_every = 50  # a shared 2-core machine: lose little when stopped
    return config
