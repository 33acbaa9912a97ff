"""The corpus's speakers: three festival voices and pitch/formant variants of them.

A variant changes what identifies a speaker beyond the synthesiser: its pitch (TD-PSOLA,
formants kept), its vocal-tract length (all formants scaled by `formant_factor` with the
resample-then-restore trick of `prosody.py`) and its habitual speaking rate. One variant
is held out of training so evaluation can report a voice the model never heard.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Voice:
    """A corpus speaker.

    name: used in paths and corpus.json. festival_voice: the festival voice it starts from.
    pitch_shift_semitones: added to the base voice's F0. formant_factor: spectral envelope
    scale (> 1: shorter vocal tract, brighter). rate_factor: multiplies every duration.
    """

    name: str
    festival_voice: str
    sex: str
    pitch_shift_semitones: float = 0.0
    formant_factor: float = 1.0
    rate_factor: float = 1.0
    held_out: bool = False

    def record(self) -> dict:
        """corpus.json's entry: {"name", "held_out", ...the parameters above}."""
        fields = asdict(self)
        return {"name": fields.pop("name"), "held_out": fields.pop("held_out"), **fields}


VOICES = (
    Voice("kal", "kal_diphone", "male"),
    Voice("ked", "ked_diphone", "male"),
    Voice("slt", "cmu_us_slt_arctic_hts", "female"),
    Voice("kal_high", "kal_diphone", "male", pitch_shift_semitones=4.0, formant_factor=1.08, rate_factor=0.95),
    Voice("slt_low", "cmu_us_slt_arctic_hts", "female", pitch_shift_semitones=-3.0, formant_factor=0.93,
          rate_factor=1.05),
    Voice("ked_bright", "ked_diphone", "male", pitch_shift_semitones=2.5, formant_factor=1.05, rate_factor=0.97,
          held_out=True),
)  # fmt: skip
VOICES_BY_NAME = {voice.name: voice for voice in VOICES}


def select_voices(names: list[str] | None) -> tuple[Voice, ...]:
    """The voices named (in corpus order), all when `names` is None; ValueError for unknown names."""
    if names is None:
        return VOICES
    unknown = [n for n in names if n not in VOICES_BY_NAME]
    if unknown:
        raise ValueError(f"unknown voice(s) {', '.join(unknown)}; choose from {', '.join(VOICES_BY_NAME)}")
    return tuple(v for v in VOICES if v.name in names)
