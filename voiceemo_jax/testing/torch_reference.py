"""A PyTorch reference of the released architecture, written from SPEC sections 2-5.

Used by the parity tests and the speed benchmarks (needs the [convert] or [test] extra).

Its `state_dict()` has exactly the release's key layout (audio_encoder_cont.*,
audio_encoder_emo.wav2vec2.*, audio_encoder_emo.classifier.*, transformer_decoder.layers.0.*
...), so the same object is the parity reference and the release-checkpoint fixture
for conversion tests. The wav2vec2 parts are transformers' own `Wav2Vec2Model`; the
frame-rate change, the biased mask table and the decoder follow the release's semantics
at batch size 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import Wav2Vec2Config, Wav2Vec2Model


def hf_normalize(audio: np.ndarray) -> np.ndarray:
    """Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm for one utterance."""
    audio = audio.astype(np.float32)
    return (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)


def interpolate_time(features: torch.Tensor, length: int) -> torch.Tensor:
    """[1, T, C] -> [1, length, C], linear, align_corners=True (the release's resampling)."""
    return F.interpolate(features.transpose(1, 2), size=length, mode="linear", align_corners=True).transpose(1, 2)


def release_biased_mask(num_heads: int, max_seq_len: int, period: int) -> torch.Tensor:
    """The release's precomputed [heads, L, L] periodic ALiBi table (built the table way)."""

    def get_slopes(n):
        def power_of_2(n):
            start = 2 ** (-(2 ** -(math.log2(n) - 3)))
            return [start * start**i for i in range(n)]

        if math.log2(n).is_integer():
            return power_of_2(n)
        closest = 2 ** math.floor(math.log2(n))
        return power_of_2(closest) + get_slopes(2 * closest)[0::2][: n - closest]

    slopes = torch.Tensor(get_slopes(num_heads))
    bias = torch.arange(start=0, end=max_seq_len, step=period).unsqueeze(1).repeat(1, period).view(-1) // period
    bias = -torch.flip(bias, dims=[0])
    alibi = torch.zeros(max_seq_len, max_seq_len)
    for i in range(max_seq_len):
        alibi[i, : i + 1] = bias[-(i + 1) :]
    alibi = slopes.unsqueeze(1).unsqueeze(1) * alibi.unsqueeze(0)
    mask = (torch.triu(torch.ones(max_seq_len, max_seq_len)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
    return mask.unsqueeze(0) + alibi


def release_alignment_mask(length: int) -> torch.Tensor:
    """Bool [T, T], True = masked: query t sees memory t only."""
    mask = torch.ones(length, length)
    mask.fill_diagonal_(0)
    return mask == 1


class ClassificationHead(nn.Module):
    def __init__(self, hidden: int, num_labels: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden, num_labels)

    def forward(self, x):
        x = torch.tanh(self.dense(self.dropout(x)))
        return self.out_proj(self.dropout(x))


class EmotionModel(nn.Module):
    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        self.wav2vec2 = Wav2Vec2Model(config)
        self.classifier = ClassificationHead(config.hidden_size, config.num_labels, config.final_dropout)


class ReleaseReference(nn.Module):
    """The released model's structure, batch size 1, eval mode."""

    def __init__(self, content_config: dict, emotion_config: dict, synth: dict, max_seq_len: int = 600):
        super().__init__()
        self.audio_encoder_cont = Wav2Vec2Model(Wav2Vec2Config(**content_config))
        self.audio_encoder_emo = EmotionModel(Wav2Vec2Config(**emotion_config))
        h_c = content_config["hidden_size"]
        h_e = emotion_config["hidden_size"]
        d = synth["emotion_dim"]
        self.audio_feature_map_cont = nn.Linear(h_c, synth["content_dim"])
        self.audio_feature_map_emo = nn.Linear(h_e, d)
        self.audio_feature_map_emo2 = nn.Linear(d, synth["emotion_tgt_dim"])
        self.obj_vector_level = nn.Linear(synth["num_levels"], synth["level_dim"])
        self.obj_vector_person = nn.Linear(synth["num_persons"], synth["person_dim"])
        layer = nn.TransformerDecoderLayer(
            d_model=d, nhead=synth["num_heads"], dim_feedforward=synth["feedforward_dim"], batch_first=True
        )
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=1)
        self.bs_map_r = nn.Linear(d, synth["output_dim"])
        self.synth = synth
        self.register_buffer(
            "biased_mask", release_biased_mask(synth["num_heads"], max_seq_len, synth["period"]), persistent=False
        )

    def content_features(self, audio: np.ndarray, frame_num: int) -> torch.Tensor:
        enc = self.audio_encoder_cont
        x = torch.from_numpy(hf_normalize(audio))[None]
        feats = enc.feature_extractor(x).transpose(1, 2)
        feats = interpolate_time(feats, frame_num)
        hidden, _ = enc.feature_projection(feats)
        return enc.encoder(hidden).last_hidden_state

    def emotion_features(self, audio: np.ndarray, frame_num: int) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.audio_encoder_emo.wav2vec2
        x = torch.from_numpy(hf_normalize(audio))[None]
        feats = enc.feature_extractor(x).transpose(1, 2)
        feats = interpolate_time(feats, int(feats.shape[1] / 50 * 30))
        hidden, _ = enc.feature_projection(feats)
        hidden = enc.encoder(hidden).last_hidden_state
        hidden = interpolate_time(hidden, frame_num)
        logits = self.audio_encoder_emo.classifier(hidden.mean(dim=1))
        return hidden, logits

    @torch.no_grad()
    def forward(self, audio: np.ndarray, level: int, person: int, emotion_audio: np.ndarray | None = None):
        """audio: [samples] float32 at 16 kHz -> (outputs [T, D], logits [labels]) as numpy."""
        frame_num = -(-len(audio) * 30 // 16000)
        content = self.content_features(audio, frame_num)
        emotion, logits = self.emotion_features(audio if emotion_audio is None else emotion_audio, frame_num)
        emo832 = self.audio_feature_map_emo(emotion)
        emo256 = F.relu(self.audio_feature_map_emo2(emo832))
        level_vec = self.obj_vector_level(F.one_hot(torch.tensor([level]), self.synth["num_levels"]).float())
        person_vec = self.obj_vector_person(F.one_hot(torch.tensor([person]), self.synth["num_persons"]).float())
        tgt = torch.cat(
            [
                self.audio_feature_map_cont(content),
                emo256,
                level_vec[:, None].repeat(1, frame_num, 1),
                person_vec[:, None].repeat(1, frame_num, 1),
            ],
            dim=2,
        )
        tgt_mask = self.biased_mask[:, :frame_num, :frame_num]
        decoded = self.transformer_decoder(
            tgt, emo832, tgt_mask=tgt_mask, memory_mask=release_alignment_mask(frame_num)
        )
        return self.bs_map_r(decoded)[0].numpy(), logits[0].numpy()


def build_reference(config, seed: int = 0, max_seq_len: int = 600) -> ReleaseReference:
    """A random-weight reference for a `VoiceEmoConfig` built from HF-style dicts (presets).

    max_seq_len: frames the release's precomputed bias table covers (600 = 20 s in the release)."""
    from voiceemo_jax.models import presets

    torch.manual_seed(seed)
    content = dict(presets.hf_wav2vec2_dict(_variant(config.content), size=_size(config.content)))
    emotion = dict(
        presets.hf_wav2vec2_dict(_variant(config.emotion), size=_size(config.emotion), labels=config.emotion.id2label)
    )
    model = ReleaseReference(content, emotion, config.synthesizer.to_dict(), max_seq_len=max_seq_len)
    # Randomise every parameter (LayerNorm scales/biases and the output head included)
    # so that a mapping mistake anywhere changes the output.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "weight_g" in name or "original0" in name:
                param.uniform_(0.5, 1.5)
            elif param.ndim == 1:
                param.normal_(0.0 if name.endswith("bias") else 1.0, 0.1)
            else:
                param.normal_(0.0, 1.0 / math.sqrt(param.shape[1] * (param.shape[2] if param.ndim == 3 else 1)))
    return model.eval()


def _variant(config) -> str:
    return config.feat_extract_norm


def _size(config) -> str:
    return {32: "tiny", 96: "demo", 768: "base", 1024: "release"}[config.hidden_size]
