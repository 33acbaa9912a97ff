"""The 52 ARKit blendshape names, in the order the model emits them (SPEC section 6)."""

ARKIT_NAMES = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
NUM_BLENDSHAPES = len(ARKIT_NAMES)
INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}

# Live Link Face (Unreal) spells the same names with a capital first letter.
LIVE_LINK_NAMES = tuple(name[0].upper() + name[1:] for name in ARKIT_NAMES)

EYE_BLINK_LEFT = INDEX["eyeBlinkLeft"]
EYE_BLINK_RIGHT = INDEX["eyeBlinkRight"]

# Channel groups used by evaluation (per-group errors) and the demo's quality report.
GROUPS = {
    "jaw_mouth": tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith(("jaw", "mouth", "tongue"))),
    "eyes": tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith("eye")),
    "brows": tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith("brow")),
    "cheeks_nose": tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith(("cheek", "nose"))),
}

# The mouth opening as one linear read-out of a frame (evaluation/lip_sync.py scores lip sync on
# it; the training loss `loss.mouth_opening` fits it): jawOpen drops the jaw, mouthClose brings the
# lips together over an open jaw, the lowered lower lip parts them further.
MOUTH_OPENING_WEIGHTS = {"jawOpen": 1.0, "mouthClose": -1.0, "mouthLowerDownLeft": 0.25, "mouthLowerDownRight": 0.25}
# The same as [52] weights w, opening = coefficients @ w.
MOUTH_OPENING_VECTOR = tuple(MOUTH_OPENING_WEIGHTS.get(name, 0.0) for name in ARKIT_NAMES)


assert NUM_BLENDSHAPES == 52
assert sum(len(g) for g in GROUPS.values()) == 52
