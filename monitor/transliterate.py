"""Writing a language's words in its other alphabet, by the tables in ``data/scripts/``.

Kazakh is published in Cyrillic and in the Latin alphabets of 2018 and 2021; Uzbek in
Latin and Cyrillic; Azerbaijani and Turkmen texts in Cyrillic still appear. The classifier
uses the tables to match each lexicon term in every alphabet of its language, and language
identification reads Latin Kazakh back into Cyrillic, which its model knows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Literal

Script = Literal["cyrillic", "latin"]
SCRIPTS_DIR = "data/scripts"


def script_of(text: str) -> Script | None:
    """The script most letters of ``text`` are in, Cyrillic or Latin (None: neither)."""
    cyrillic = latin = 0
    for ch in text:
        if "\u0400" <= ch <= "\u04ff":
            cyrillic += 1
        elif ch.isalpha() and ch < "\u0250":
            latin += 1
    if not cyrillic and not latin:
        return None
    return "cyrillic" if cyrillic >= latin else "latin"


@dataclass(frozen=True)
class Alphabet:
    """One direction of one table: letters of ``source`` script to another alphabet."""

    language: str
    name: str
    source: Script
    letters: dict[str, str]
    initial: dict[str, str] = field(default_factory=dict)  # at the start of a word
    upper: dict[str, str] = field(default_factory=dict)  # capitals str.upper() gets wrong
    reverse: bool = False  # also read back the other way (language identification)
    # Small letters str.lower() gets wrong for the Latin side (Turkic I is ı, İ is i).
    lower: dict[str, str] = field(default_factory=dict)
    marks: frozenset[str] = frozenset()  # letters telling this alphabet from its neighbours

    @cached_property
    def inventory(self) -> frozenset[str]:
        """Every letter this alphabet writes."""
        written = "".join((*self.letters.values(), *self.initial.values()))
        return frozenset(c for c in written if c.isalpha())

    @cached_property
    def longest(self) -> int:
        return max(len(k) for k in (*self.letters, *self.initial))

    def write(self, text: str) -> str:
        """``text`` in this alphabet; case kept (an all-capital word stays all capitals)."""
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            at_start = i == 0 or not text[i - 1].isalpha()
            for size in range(min(self.longest, n - i), 0, -1):
                chunk = text[i : i + size]
                low = "".join(self._lower(c) for c in chunk)
                found = (self.initial.get(low) if at_start else None) or self.letters.get(low)
                if found is None:
                    continue
                out.append(self._cased(found, chunk, text, i, size))
                i += size
                break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _lower(self, char: str) -> str:
        if char in self.lower:
            return self.lower[char]
        return "i" if char == "İ" else char.lower()

    def _cased(self, found: str, chunk: str, text: str, i: int, size: int) -> str:
        if not found or not chunk[0].isupper():
            return found
        word_end = i + size
        while word_end < len(text) and text[word_end].isalpha():
            word_end += 1
        word_start = i
        while word_start > 0 and text[word_start - 1].isalpha():
            word_start -= 1
        word = text[word_start:word_end]
        if len(word) > 1 and word.isupper():
            return "".join(self.upper.get(c, c.upper()) for c in found)
        return self.upper.get(found[0], found[0].upper()) + found[1:]

    def reversed(self) -> Alphabet:
        """The other way, lower case only: the first letter listed wins where two letters
        share a spelling (Kazakh и and й are both "ı" in 2018)."""
        back: dict[str, str] = {}
        for letter, spelling in self.letters.items():
            if spelling:
                back.setdefault(spelling, letter)
        other: Script = "latin" if self.source == "cyrillic" else "cyrillic"
        return Alphabet(self.language, f"{self.name} reversed", other, back, lower=self.lower)


def _load(raw: str) -> list[Alphabet]:
    data = tomllib.loads(raw)
    return [
        Alphabet(
            language=data["language"],
            name=a["name"],
            source=a["from"],
            letters=dict(a["letters"]),
            initial=dict(a.get("initial", {})),
            upper=dict(a.get("upper", {})),
            reverse=bool(a.get("reverse", False)),
            lower=dict(a.get("lower", {})),
            marks=frozenset(a.get("marks", [])),
        )
        for a in data["alphabet"]
    ]


@lru_cache(maxsize=1)
def _table_sources() -> tuple[str, ...]:
    folder = resources.files("monitor").joinpath(SCRIPTS_DIR)
    entries = sorted(folder.iterdir(), key=lambda e: e.name)
    return tuple(e.read_text(encoding="utf-8") for e in entries if e.name.endswith(".toml"))


@lru_cache(maxsize=1)
def alphabets() -> tuple[Alphabet, ...]:
    """Every table in data/scripts, in file order."""
    return tuple(a for raw in _table_sources() for a in _load(raw))


def tables_text() -> str:
    """The tables' source, for versioning what the classifier matched with."""
    return "\0".join(_table_sources())


def spellings(text: str, language: str) -> list[str]:
    """``text`` written in each other alphabet of ``language`` (none when it has no table,
    or the text is in neither script a table reads)."""
    script = script_of(text)
    out = []
    for alphabet in alphabets():
        if alphabet.language == language and alphabet.source == script:
            written = alphabet.write(text)
            if written != text and written not in out:
                out.append(written)
    return out


MIN_MARKS = 2  # a Latin text shows its alphabet by this many marks at least ...
MARK_SHARE = 0.005  # ... and by this share of its letters
FOREIGN_SHARE = 0.02  # letters outside the alphabet a text in it may carry (names)


@lru_cache(maxsize=16)
def _reversible(language: str) -> tuple[tuple[Alphabet, Alphabet], ...]:
    return tuple((a, a.reversed()) for a in alphabets() if a.language == language and a.reverse)


def read_back(text: str, language: str, *, expected: bool = False) -> str | None:
    """``text`` read back into Cyrillic, when it is written in one of ``language``'s Latin
    alphabets: its letters are that alphabet's (but a few, such as names) and it uses the
    alphabet's marks, the letters its Turkic neighbours do not write. Else None.

    ``expected``: the source publishes in ``language``: one mark is enough (a title)."""
    present = set(text.lower())
    for alphabet, back in _reversible(language):
        if present.isdisjoint(alphabet.marks):
            continue  # the common case, decided without a pass over the text
        # A capital I is ı or i: only a written ı counts as a mark.
        letters = ["i" if c == "İ" else c.lower() for c in text if c.isalpha()]
        inventory = alphabet.inventory
        marks = sum(c in alphabet.marks for c in letters)
        foreign = sum(c not in inventory for c in letters)
        needed = 1 if expected else max(MIN_MARKS, MARK_SHARE * len(letters))
        if marks >= needed and foreign <= FOREIGN_SHARE * len(letters):
            return back.write(text)
    return None
