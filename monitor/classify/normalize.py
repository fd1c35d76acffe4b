"""Text folding for matching, with a map back to the original text for evidence.

Lexicon terms and article text go through the same `fold`, so a lexicon author writes terms
in their natural spelling. Folding is deliberately loose, because news sites are sloppy:

- Unicode NFC, then lower case; Turkish/Azerbaijani İ, I and ı all become "i" (so "İİT"
  does not turn into "i̇i̇t" with combining dots).
- Letters with diacritics lose them (é→e, ş→s, ё→е, й→и, ӯ→у), and the extra letters of
  Kazakh, Kyrgyz, Tajik and Uzbek Cyrillic fold to their Russian look-alikes (қ→к, ұ→у,
  ҳ→х, ә→а): sites without a Kazakh keyboard layout write "ынтымактастыгы".
- Arabic and Persian: ي/ى/ئ→ی, ك→ک, ة/ۀ→ه, أ/إ/آ/ٱ→ا, ؤ→و; harakat, tatweel and ZWNJ go.
- Uzbek o‘/g‘ apostrophes (ʻ ’ ‘ ` ʼ ´) become "'", double quotes (« » “ ” „) '"',
  every dash "-", every space " ".

Exact-case abbreviations ("ОИС", "İİT") are checked against the original text, so folding
never makes "IIT" equal "İİT".

Every character maps to one character or
is deleted. Without deletions the offsets are identical; with them, `original_offset` maps
a folded offset back through a short list of deletion points.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from itertools import chain

_DELETED = [
    *range(0x0300, 0x0370),  # combining diacritics left after NFC
    *range(0x0610, 0x061B),  # Arabic honorific marks
    *range(0x064B, 0x0660),  # Arabic harakat
    0x0670,  # Arabic superscript alef
    0x0640,  # tatweel
    0x00AD,  # soft hyphen
    0x200B,  # zero-width space
    0x200C,  # ZWNJ (Persian half-space)
    0x200D,  # ZWJ
    0x200E,  # LRM
    0x200F,  # RLM
    0x2060,  # word joiner
    0xFEFF,  # BOM
]

_EXPLICIT = {
    # Turkish / Azerbaijani: dotted and dotless i are one letter for matching.
    "I": "i",
    "İ": "i",
    "ı": "i",
    "Ə": "e",
    "ə": "e",
    # Kazakh, Kyrgyz, Tajik, Uzbek, Bashkir Cyrillic letters to their Russian look-alikes.
    "Ә": "а",
    "ә": "а",
    "Ғ": "г",
    "ғ": "г",
    "Қ": "к",
    "қ": "к",
    "Ң": "н",
    "ң": "н",
    "Ө": "о",
    "ө": "о",
    "Ұ": "у",
    "ұ": "у",
    "Ү": "у",
    "ү": "у",
    "Һ": "х",
    "һ": "х",
    "І": "и",
    "і": "и",
    "Ҳ": "х",
    "ҳ": "х",
    "Ҷ": "ч",
    "ҷ": "ч",
    "Ӊ": "н",
    "ӊ": "н",
    "Ҝ": "к",
    "ҝ": "к",
    "Ђ": "д",
    # Arabic and Persian letter variants.
    "ي": "ی",
    "ى": "ی",
    "ئ": "ی",
    "ك": "ک",
    "ة": "ه",
    "ۀ": "ه",
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ؤ": "و",
    # Apostrophes (Uzbek o‘ g‘, Turkish İİT’nin) and quotes used as apostrophes.
    "ʻ": "'",
    "ʼ": "'",
    "’": "'",
    "‘": "'",
    "`": "'",
    "´": "'",
    "′": "'",
    # Double quotes of other scripts: a name split by them is still one term.
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "„": '"',
    # Dashes and minus signs.
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    # Unusual spaces.
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u2009": " ",
}


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in chain(range(0x00C0, 0x0250), range(0x0400, 0x0530), range(0x1E00, 0x1F00)):
        decomposed = unicodedata.normalize("NFD", chr(cp))
        if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
            table[cp] = decomposed[0].lower()
    for src, target in _EXPLICIT.items():
        table[ord(src)] = target
    # One more pass so that chains resolve (ї -> і -> и).
    for cp, dst in list(table.items()):
        if dst is not None and ord(dst) in table:
            table[cp] = table[ord(dst)]
    for cp in _DELETED:
        table[cp] = None
    return table


_TABLE = _build_table()
# After lower(), each character to replace and its replacement ("" deletes it).
_REPLACE: dict[str, str] = {}
for _cp, _dst in _TABLE.items():
    if chr(_cp) != "İ":
        _REPLACE.setdefault(chr(_cp).lower(), _dst or "")
        _REPLACE[chr(_cp)] = _dst or ""
# "I" lowers to "i", which maps to itself: identity entries would never leave the loop below.
_REPLACE = {src: dst for src, dst in _REPLACE.items() if src != dst}
_REPLACE_RE = re.compile("[" + "".join(re.escape(c) for c in _REPLACE) + "]")
_DELETED_RE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in _DELETED) + "]")


def _fold_nfc(text: str) -> str:
    # str.translate looks up every character in a dict (~0.4 ms on 4 KB of Cyrillic).
    # Instead, find each distinct character to fold once and replace all its occurrences:
    # a text holds only a dozen or so of them. Replacements are never themselves folded,
    # and nothing before the last hit needs folding, so the search moves only forward.
    if "İ" in text:
        text = text.replace("İ", "i")
    text = text.lower()
    pos = 0
    while m := _REPLACE_RE.search(text, pos):
        char = m.group()
        text = text.replace(char, _REPLACE[char])
        pos = m.start()
    return text


@dataclass(frozen=True)
class Folded:
    """A folded text and how to find its characters in the original (NFC) text."""

    original: str
    text: str
    _gaps: tuple[int, ...] = ()

    def original_offset(self, i: int) -> int:
        """Offset in `original` of the character at folded offset `i`."""
        if not self._gaps:
            return i
        return i + bisect_right(self._gaps, i)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if end <= start:
            o = self.original_offset(start)
            return o, o
        return self.original_offset(start), self.original_offset(end - 1) + 1


def fold(text: str) -> Folded:
    """Fold `text` for matching; see the module docstring."""
    original = unicodedata.normalize("NFC", text)
    folded = _fold_nfc(original)
    if len(folded) == len(original):
        return Folded(original, folded)
    # Deletion j at original index d sits just before folded index d - j.
    gaps = tuple(m.start() - j for j, m in enumerate(_DELETED_RE.finditer(original)))
    return Folded(original, folded, gaps)


def fold_term(text: str) -> str:
    """Fold a lexicon term (no offsets needed)."""
    return _fold_nfc(unicodedata.normalize("NFC", text))


# Words past this many characters of an item are not indexed: PostgreSQL refuses a tsvector
# over 1 MB, and a page that long is not an article.
MAX_INDEXED_CHARS = 200_000
_INDEX_WORD = re.compile(r"[^\W_]+")


def folded_words(text: str) -> list[str]:
    """The words of ``text`` as the search index holds them, and as a query asks for them."""
    return _INDEX_WORD.findall(fold_term(text))


def search_text(*parts: str | None) -> str:
    """What the search index stores for these texts: their folded words, one space apart.
    Here rather than in the store, so that an analysis worker makes it without loading the
    database layer."""
    return " ".join(folded_words(" ".join(p for p in parts if p)[:MAX_INDEXED_CHARS]))
