"""Transcripts -> dictionary words -> ARPAbet pronunciations, for the forced aligner.

Words come from the text by a plain rule (lower case; runs of letters, digits and inner
apostrophes; hyphens and other punctuation separate words). Tokens with digits ("1908",
"29th") are expanded by festival's text analysis ("nineteen o eight", "twenty ninth").
Pronunciations come from CMUdict as shipped with pocketsphinx (the aligner's own
dictionary, so every word found there needs nothing more); words it lacks get festival's
letter-to-sound rules (`lex.lookup` in the CMU lexicon), all of a batch in one festival run,
with festival's radio phone set mapped onto CMUdict's (ax -> AH, axr -> ER).
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from data_pipelines.sources.synth.festival_tts import festival_binary

# CMUdict's 39 phones (no stress digits: pocketsphinx's en-us dictionary has none).
ARPABET = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)
# festival's radio phone set (lexicon "cmu") where it differs from CMUdict.
FESTIVAL_TO_ARPABET = {"ax": "AH", "axr": "ER"}
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_SCHEME_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
FESTIVAL_TIMEOUT_SECONDS = 600


def cmudict_path() -> Path:
    """pocketsphinx's en-us CMUdict."""
    from pocketsphinx import get_model_path

    return Path(get_model_path("en-us/cmudict-en-us.dict"))


@functools.cache
def cmudict_words() -> frozenset[str]:
    """Every word CMUdict spells (alternates such as "read(2)" folded into "read")."""
    with open(cmudict_path(), encoding="utf-8") as lines:
        return frozenset(line.split(maxsplit=1)[0].split("(")[0] for line in lines if line.strip())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of a transcript, digits kept for `expand_numbers`."""
    return _TOKEN.findall(text.lower().translate(_QUOTES))


def _run_festival(script: str) -> list[str]:
    """Runs a Scheme script in one festival process; its stdout lines."""
    with tempfile.NamedTemporaryFile("w", suffix=".scm", prefix="voiceemo-lex-") as file:
        file.write(script)
        file.flush()
        result = subprocess.run(
            [festival_binary(), "-b", file.name],
            capture_output=True,
            text=True,
            timeout=FESTIVAL_TIMEOUT_SECONDS,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"festival failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    return result.stdout.splitlines()


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expand_numbers(number_tokens: Iterable[str]) -> dict[str, list[str]]:
    """{token: its words} for tokens with digits, by festival's token-to-word rules (one run)."""
    todo = sorted(set(number_tokens))
    if not todo:
        return {}
    script = "".join(
        f"(set! u (Utterance Text {_scheme_string(token)}))(Initialize u)(Text u)(Token_POS u)(Token u)"
        f"(print (cons {_scheme_string(token)} (mapcar (lambda (w) (item.name w)) (utt.relation.items u 'Word))))\n"
        for token in todo
    )
    expanded = {}
    for line in _run_festival(script):
        strings = _SCHEME_STRING.findall(line)
        if strings and strings[0] in todo:
            # festival keeps punctuation tokens as words; only letters are spoken.
            expanded[strings[0]] = [w for word in strings[1:] for w in tokens(word) if w.isalpha()]
    return expanded


def words_of(texts: Sequence[str]) -> list[list[str]]:
    """Each transcript's words, numbers spelled out (festival runs once, only if some text has digits)."""
    tokenised = [tokens(text) for text in texts]
    numbers = expand_numbers(t for words in tokenised for t in words if any(c.isdigit() for c in t))
    return [[w for t in words for w in numbers.get(t, [t])] for words in tokenised]


def festival_pronunciations(words: Iterable[str]) -> dict[str, str]:
    """{word: "PH PH ..."} from festival's lexicon and letter-to-sound rules (one run).

    Apostrophes are dropped first (festival's rules spell none); a word festival cannot
    pronounce is missing from the result.
    """
    todo = sorted(set(words))
    if not todo:
        return {}
    lookups = {word: word.replace("'", "") for word in todo}
    script = "(lex.select 'cmu)\n" + "".join(
        f"(print (list {_scheme_string(word)} (lex.lookup {_scheme_string(spelt)} nil)))\n"
        for word, spelt in lookups.items()
    )
    found = {}
    for line in _run_festival(script):
        match = _SCHEME_STRING.match(line.lstrip("("))
        if match is None or match.group(1) not in lookups:
            continue
        # ("word" ("spelt" nil (((t s) 0) ((g r aa) 1)))): phones are the bare symbols after the POS.
        after = line[match.end() + 1 :]
        after = after[_SCHEME_STRING.search(after).end() :] if _SCHEME_STRING.search(after) else after
        symbols = [s for s in re.findall(r"[a-z]+", after) if s != "nil"]
        phones = [FESTIVAL_TO_ARPABET.get(s, s.upper()) for s in symbols]
        if phones and all(p in ARPABET for p in phones):
            found[match.group(1)] = " ".join(phones)
    return found


def missing_pronunciations(words: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """({word: pronunciation} for the words CMUdict lacks, [words nobody can pronounce])."""
    missing = sorted(set(words) - cmudict_words())
    found = festival_pronunciations(missing)
    return found, [word for word in missing if word not in found]
