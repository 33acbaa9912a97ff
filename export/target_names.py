"""Matching the 52 ARKit channels to a head's morph targets / shape keys by name.

Heads people own name their ARKit shapes in several conventions; all of these reach
`jawOpen`, `eyeBlinkLeft` and `browDownRight`:

  * ARKit itself, ignoring case:        jawOpen, JawOpen (Live Link), EYEBLINKLEFT
  * Face Cap style `_L` / `_R` sides:    eyeBlink_L, browDown_R, mouthSmile_L
  * `Left` / `Right` as separate words:  eyeBlink_Left, browDown Right, EyeBlink-left
  * snake_case:                          jaw_open, eye_blink_left, brow_down_r
  * a side written first:                L_eyeBlink, left_eye_blink
  * Maya/FBX prefixes (blend-shape node, namespace or path): blendShape1.jawOpen,
    head:eyeBlink_L, face_GEO|blendShape2.jaw_open

A name is reduced to a key: the part after the last `.`, `:` or `|`, split into words
(separators `_ - space` and camelCase boundaries), a side word (`l`, `r`, `left`, `right`)
moved to the end and spelled out, all lower case and joined. Two names match when their
keys are equal, which never pairs look-alikes such as `mouthSmile` with `mouthSmileLeft`.
An exact (case-insensitive) name wins over a convention match, and an explicit name map
(ARKit name -> target name, from `--name-map FILE.json`) wins over both.

Blender runs `blender_render.py` with its own Python, which loads this file directly, so
it uses the standard library only.
"""

from __future__ import annotations

import json
import re

_PREFIX = re.compile(r"^.*[.:|]")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}


def name_key(name: str) -> str:
    """A target name -> its convention-free key, e.g. 'blendShape1.eyeBlink_L' -> 'eyeblinkleft'."""
    words = [word.lower() for word in _WORDS.findall(_PREFIX.sub("", name.strip()))]
    if len(words) > 1 and words[-1] in _SIDES:
        words[-1] = _SIDES[words[-1]]
    elif len(words) > 1 and words[0] in _SIDES:
        words = words[1:] + [_SIDES[words[0]]]
    return "".join(words)


def match_targets(arkit_names, target_names, name_map: dict[str, str] | None = None) -> dict[str, int]:
    """ARKit name -> index into `target_names` for each ARKit name the targets carry.

    arkit_names: the channels in order (ARKit's 52 names); target_names: the head's morph
    targets or shape keys; name_map: ARKit name -> exact target name, tried first.
    Each target serves at most one channel.
    """
    target_names = [str(name) for name in target_names]
    exact, by_key = {}, {}
    for i, name in enumerate(target_names):
        exact.setdefault(name.strip().lower(), i)
        by_key.setdefault(name_key(name), i)
    found, used = {}, set()
    for rule in ("map", "exact", "key"):
        for arkit in arkit_names:
            if arkit in found:
                continue
            if rule == "map":
                wanted = (name_map or {}).get(arkit)
                index = target_names.index(wanted) if wanted in target_names else None
            elif rule == "exact":
                index = exact.get(arkit.lower())
            else:
                index = by_key.get(name_key(arkit))
            if index is not None and index not in used:
                found[arkit] = index
                used.add(index)
    return {arkit: found[arkit] for arkit in arkit_names if arkit in found}


def unmatched_targets(target_names, found: dict[str, int]) -> list[str]:
    """The target names no ARKit channel drives (reported, never guessed at)."""
    used = set(found.values())
    return [str(name) for i, name in enumerate(target_names) if i not in used]


def parse_name_map(text: str, arkit_names, source: str = "name map") -> dict[str, str]:
    """JSON text {"jawOpen": "MouthOpen", ...} -> the map; ValueError with a one-line reason when malformed."""
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
        raise ValueError(f'{source}: expected a JSON object of ARKit name -> target name, e.g. {{"jawOpen": "Jaw"}}')
    by_lower = {name.lower(): name for name in arkit_names}
    unknown = [key for key in mapping if key.lower() not in by_lower]
    if unknown:
        raise ValueError(f"{source}: not ARKit blendshape names: {', '.join(unknown[:8])}")
    return {by_lower[key.lower()]: value for key, value in mapping.items()}
