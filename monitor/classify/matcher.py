"""Find every lexicon term in a folded text in one pass.

One Aho-Corasick automaton holds the first word of every term; each hit that starts at a
word boundary (or after an Arabic proclitic such as و or ل) is then confirmed by that
term's own anchored regex, which handles free endings, optional words and separators.
First words are rare in ordinary text, so the regexes run a handful of times per article.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

from monitor.classify.lexicon import Lexicon, Term
from monitor.classify.normalize import Folded

# Between the words of a term: spaces, dashes, quotes (folded text has only "'", '"' and
# "-"). A class with characters beyond Latin-1 compiles into a table of the whole Basic
# Multilingual Plane: ASCII only, the ~1,100 patterns compile in less than half the time,
# which each worker process pays.
_SEP = r"[\s\-'\"]+"
# A suffix after an apostrophe or hyphen: İİT'nin, ИЫҰ-ға, OIC's.
_SUFFIX = r"(?:['\-]\w+)?"


class Match(NamedTuple):
    # A NamedTuple: built for every hit, and frozen dataclasses cost ~1 µs each to create.
    concept: int  # index into Lexicon.concepts
    term: Term
    start: int  # folded offsets
    end: int


@dataclass
class _Compiled:
    concept: int
    term: Term
    pattern: str
    literal: str  # exact_case terms: the spelling the original text must carry
    regex: re.Pattern[str] | None = None  # compiled on the first hit of its first word


def _word_pattern(word: str) -> tuple[str, bool]:
    optional = word.startswith("[") and word.endswith("]")
    if optional:
        word = word[1:-1]
    if word.endswith("*"):
        return re.escape(word[:-1]) + r"\w*" + _SUFFIX, optional
    return re.escape(word) + r"(?!\w)" + _SUFFIX, optional


def _pattern(term: Term) -> str:
    if term.exact_case:
        # The case check on the original text decides where the word may end.
        return re.escape(term.words[0]) + r"\w*" + _SUFFIX
    first, _ = _word_pattern(term.words[0])
    parts = [first]
    for word in term.words[1:]:
        pattern, optional = _word_pattern(word)
        parts.append(f"(?:{_SEP}{pattern})?" if optional else f"{_SEP}{pattern}")
    return "".join(parts)


def _first_literal(term: Term) -> str:
    return term.words[0].rstrip("*")


def _automaton(keys: dict[str, list[int]]) -> ahocorasick.Automaton | None:
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key, ids in keys.items():
        automaton.add_word(key, (len(key), tuple(ids)))
    automaton.make_automaton()
    return automaton


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


class TermMatcher:
    """All terms of a lexicon, compiled once."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._compiled: list[_Compiled] = []
        # Context and counter terms only matter once an ambiguous term has been found, so
        # they live in a second automaton that most articles never need to run.
        keys: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        for ci, concept in enumerate(lexicon.concepts):
            group = 1 if concept.role in ("context", "counter") else 0
            for term in concept.terms:
                literal = unicodedata.normalize("NFC", term.text) if term.exact_case else ""
                keys[group].setdefault(_first_literal(term), []).append(len(self._compiled))
                self._compiled.append(_Compiled(ci, term, _pattern(term), literal))
        self._automata = tuple(_automaton(k) for k in keys)
        self._proclitics = tuple(sorted(set(lexicon.proclitics), key=len, reverse=True))
        self._proclitic_chars = frozenset(p[-1] for p in self._proclitics)

    def find(self, folded: Folded, context: bool = False) -> list[Match]:
        """Matches of the topic's terms, or (context=True) of its context and counter terms."""
        text = folded.text
        found: list[Match] = []
        automaton = self._automata[1 if context else 0]
        if automaton is None:
            return found
        for end, (length, ids) in automaton.iter(text):
            start = end - length + 1
            if start:
                # Inline boundary test: most automaton hits are inside longer words.
                prev = text[start - 1]
                if (prev.isalnum() or prev == "_") and (
                    prev not in self._proclitic_chars or not self._after_proclitic(text, start)
                ):
                    continue
            for i in ids:
                c = self._compiled[i]
                if c.regex is None:
                    # Compiling ~600 Unicode regexes up front costs 0.4 s per process.
                    c.regex = re.compile(c.pattern)
                m = c.regex.match(text, start)
                if m is None:
                    continue
                stop = m.end()
                if c.term.exact_case:
                    stop = self._exact_end(folded, c.literal, start, stop)
                    if stop < 0:
                        continue
                found.append(Match(c.concept, c.term, start, stop))
        return found

    def _after_proclitic(self, text: str, start: int) -> bool:
        for p in self._proclitics:
            at = start - len(p)
            if at >= 0 and text.startswith(p, at) and (at == 0 or not _is_word(text[at - 1])):
                return True
        return False

    @staticmethod
    def _exact_end(folded: Folded, literal: str, start: int, stop: int) -> int:
        """Folded end of an exact-case match, or -1 if the original does not carry it."""
        original = folded.original
        o = folded.original_offset(start)
        if not original.startswith(literal, o):
            return -1
        after = o + len(literal)
        if after < len(original):
            nxt = original[after]
            # ОИСТ or OICA is another abbreviation; ИКУнун is a glued suffix.
            if _is_word(nxt) and not (nxt.isalpha() and nxt.islower()):
                return -1
        return stop
