"""`voiceemo convert`: released PyTorch / Hugging Face weights -> VoiceEmo-JAX checkpoints."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a released checkpoint or a Hugging Face wav2vec2 folder",
        description="Converts PyTorch weights into VoiceEmo-JAX (Orbax) checkpoints. Needs the [convert] extra.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

    emotalk = kinds.add_parser(
        "emotalk",
        help="the released model (.pth) + its two encoder config folders",
        description=(
            "Converts the release's state dict. Sizes come from the tensor shapes and the two "
            "encoders' Hugging Face folders (config.json and preprocessor_config.json; weights "
            "there are not needed, the .pth carries them). Strict: any unexpected or missing key "
            "or shape mismatch fails and is listed (lm_head and masked_spec_embed are ignored)."
        ),
    )
    emotalk.add_argument("--checkpoint", required=True, help="release state dict (.pth), loaded with weights_only")
    emotalk.add_argument("--content-encoder", required=True, help="HF folder of the content wav2vec2")
    emotalk.add_argument("--emotion-encoder", required=True, help="HF folder of the emotion wav2vec2 (with id2label)")
    emotalk.add_argument("--out", required=True, help="output checkpoint folder (must not exist)")
    emotalk.add_argument("--num-heads", type=int, default=4, help="decoder attention heads (default 4)")
    emotalk.add_argument("--period", type=int, default=30, help="periodic ALiBi period in frames (default 30)")
    emotalk.set_defaults(handler=run_emotalk)

    wav2vec2 = kinds.add_parser(
        "wav2vec2",
        help="a plain Hugging Face wav2vec2 folder with weights -> encoder checkpoint",
        description=(
            "Converts a Hugging Face wav2vec2 folder (config.json, preprocessor_config.json, "
            "model.safetensors or pytorch_model.bin) into an encoder checkpoint that training can "
            "initialise the content or emotion encoder from (--config.init_from)."
        ),
    )
    wav2vec2.add_argument("--model", required=True, help="HF model folder")
    wav2vec2.add_argument("--out", required=True, help="output encoder checkpoint folder (must not exist)")
    wav2vec2.set_defaults(handler=run_wav2vec2)


def run_emotalk(args) -> int:
    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.conversion import emotalk

    model = emotalk.convert_release(
        args.checkpoint, args.content_encoder, args.emotion_encoder, num_heads=args.num_heads, period=args.period
    )
    source = {
        "kind": "emotalk-release",
        "checkpoint": str(args.checkpoint),
        "content_encoder": str(args.content_encoder),
        "emotion_encoder": str(args.emotion_encoder),
    }
    out = checkpoint_io.save_model(model, args.out, source=source)
    synth = model.config.synthesizer
    print(
        f"converted {args.checkpoint} -> {out} (content {model.config.content.num_hidden_layers}x"
        f"{model.config.content.hidden_size}, emotion {model.config.emotion.num_hidden_layers}x"
        f"{model.config.emotion.hidden_size} with labels {', '.join(model.config.emotion_labels)}; "
        f"decoder d_model {synth.d_model}, output {synth.output_dim})"
    )
    return 0


def run_wav2vec2(args) -> int:
    from voiceemo_jax.conversion import hf_wav2vec2

    out, config = hf_wav2vec2.convert_folder(args.model, args.out)
    head = f", classifier over {config.num_labels} labels" if config.num_labels else ""
    print(f"converted {args.model} -> {out} ({config.num_hidden_layers}x{config.hidden_size}{head})")
    return 0
