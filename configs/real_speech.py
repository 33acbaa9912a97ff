"""The demo model fine-tuned on real voices: the last stage of the shipped demo model's recipe.

Starts from the synthetic-corpus demo model (configs/demo.py, `init_from`) and trains on one build
that holds the synthetic corpus and real emotional speech (TESS and RAVDESS actors 01-18, force-aligned
phones through the same viseme rules, the emotion's expression overlay; see configs/demo.py for the
commands). Everything trains, the emotion encoder included: its classifier learns the emotions of
real voices from the cross-reconstruction batches (X21's label), while the synthetic clips keep what
it knew. The held-out recordings (`voiceemo_jax.evaluation.held_out_speech`) are never in the build.

    voiceemo train --config configs/real_speech.py --workdir runs/real_speech \
        --config.data.dir=data/demo_mix --config.init_from=runs/demo/model
"""

from configs import demo


def get_config(arg: str | None = None):
    config = demo.get_config(arg)
    config.init_from = "runs/demo/model"
    config.model.freeze_emotion_encoder = False
    config.loss.emotion = 0.5
    config.data.window_speakers = 8  # 26 speakers: more of them per window mixes real and synthetic voices
    config.train.num_steps = 900
    config.train.learning_rate = 3e-4
    config.train.warmup_steps = 50
    config.train.eval_every = 300
    config.train.checkpoint_every = 50  # a shared 2-core machine: lose little when stopped
    return config
