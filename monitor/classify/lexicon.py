"""Topic lexicons: TOML files of weighted concepts and their terms in many languages.

A lexicon file (see `monitor/classify/lexicons/oic.toml`, the default) has:

- `[topic]` with `id` and `name`;
- optional `[scoring]` (thresholds, position weights, repetition decay; defaults below);
- optional `[matching] proclitics` (Arabic-script prefixes such as و ب ل that may be glued
  to a term), `[matching] prefix_variants` (a term starting with one prefix may start with
  another: Arabic ال becomes لل after the preposition ل) and `[layout] tail_markers`
  (extra "Most read" headings, added to the built-in list in `monitor/classify/layout.toml`);
- one `[[concept]]` per idea, with `id`, `role`, optional `weight`, `label`, `exact_case`,
  `voided_by`, `supported_by`, and a `[concept.terms]` table of language code -> list of
  terms.

Term syntax (matched on folded text, see `normalize.py`, after a word boundary on the left):
words separated by spaces (a hyphen counts as a space); `word*` accepts any ending
(case endings, Turkic suffixes); a word without `*` must end there, though a suffix after an
apostrophe or hyphen is still accepted (İİT'nin, ИЫҰ-ның, OIC's); `[word]` is optional
(not as the first word). With `exact_case = true` a term is one word matched exactly as
written, followed by nothing, a separator or lower-case letters (ИКУнун): for abbreviations.

Roles: `core` (the topic itself: names, organs, events), `weak` (related bodies, office
holders: can make an item a mention, never relevant on their own), `ambiguous` (counts only
with support in the text and is voided by the `counter` concepts listed in its `voided_by`),
`context` (no weight; supports ambiguous terms), `counter` (no weight; the other meaning).
An ambiguous concept's optional `supported_by` lists the only `context` concepts that may
support it (default: every context concept); core and weak terms always support it. A bare
"Council of Foreign Ministers" must not be supported by "United Nations" or "foreign
minister", which are just as much the setting of its other meanings.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from monitor.classify.normalize import fold_term
from monitor.errors import LexiconError
from monitor.transliterate import spellings, tables_text

Role = Literal["core", "weak", "ambiguous", "context", "counter"]
ROLES: tuple[Role, ...] = ("core", "weak", "ambiguous", "context", "counter")
_DEFAULT_WEIGHT: dict[Role, float] = {
    "core": 1.0,
    "weak": 0.8,
    "ambiguous": 0.8,
    "context": 0.0,
    "counter": 0.0,
}
_CONCEPT_KEYS = {
    "id",
    "label",
    "role",
    "weight",
    "exact_case",
    "voided_by",
    "supported_by",
    "terms",
}
_TOP_KEYS = {"topic", "scoring", "matching", "layout", "concept"}

# Bump when the engine scores differently, so stored items know they need re-scoring.
ENGINE_VERSION = "3"


@dataclass(frozen=True)
class Scoring:
    """How matches become a score. Points: a core term in the body is worth its weight."""

    relevant_points: float = 2.0  # at or above: relevant; relevance 0.5 there
    mention_points: float = 0.5  # at or above: mention
    repeat_decay: float = 0.7  # the k-th repeat of a concept counts decay**k
    weak_ceiling: float = 0.95  # weak concepts lift the score to this share of relevant
    lead_chars: int = 400  # the first characters of the text are the lead
    title: float = 2.5
    lead: float = 1.5
    body: float = 1.0
    tail: float = 0.15  # "Most read" lists and other trailing headline blocks


@dataclass(frozen=True)
class Term:
    text: str  # as written in the lexicon
    language: str
    words: tuple[str, ...]  # folded words, with their `*` and `[]` marks
    exact_case: bool

    @property
    def key(self) -> tuple[str, ...]:
        """What makes two terms the same: the folded words, or for an exact_case term its
        exact spelling ("IYU" and "İYU" fold alike but are two spellings)."""
        return (self.text,) if self.exact_case else self.words


@dataclass(frozen=True)
class Concept:
    id: str
    role: Role
    weight: float
    terms: tuple[Term, ...]
    label: str = ""
    exact_case: bool = False
    voided_by: tuple[str, ...] = ()
    supported_by: tuple[str, ...] = ()  # context concepts allowed to support; () = all


@dataclass(frozen=True)
class Lexicon:
    topic: str
    name: str
    concepts: tuple[Concept, ...]
    scoring: Scoring = field(default_factory=Scoring)
    proclitics: tuple[str, ...] = ()
    tail_markers: tuple[str, ...] = ()
    source: str = ""  # the file's text, kept to rebuild in worker processes
    path: str = ""
    version: str = ""

    def concept(self, concept_id: str) -> Concept:
        for c in self.concepts:
            if c.id == concept_id:
                return c
        raise KeyError(concept_id)


def default_lexicon_path() -> Path:
    """The OIC lexicon shipped inside the package."""
    return Path(str(resources.files("monitor.classify") / "lexicons" / "oic.toml"))


def _layout_source() -> str:
    return (resources.files("monitor.classify") / "layout.toml").read_text(encoding="utf-8")


def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read and validate a lexicon file (the shipped OIC lexicon when `path` is None)."""
    path = path or default_lexicon_path()
    try:
        source = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read lexicon: {exc.strerror or exc}") from exc
    return parse_lexicon(source, str(path))


def parse_lexicon(source: str, path: str = "<lexicon>") -> Lexicon:
    """Validate lexicon TOML text; every problem raises LexiconError naming `path`."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{path}: not valid TOML: {exc}") from exc
    layout = tomllib.loads(_layout_source())

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise LexiconError(f"{path}: unknown section(s) {sorted(unknown)}")
    topic = _table(data.get("topic", {}), path, "[topic]")
    topic_id = topic.get("id")
    if not isinstance(topic_id, str) or not topic_id:
        raise LexiconError(f'{path}: [topic] needs an id, e.g. id = "oic"')
    scoring = _scoring(_table(data.get("scoring", {}), path, "[scoring]"), path)
    matching = _table(data.get("matching", {}), path, "[matching]")
    proclitics = tuple(
        fold_term(p)
        for p in _strings(matching.get("proclitics", []), path, "[matching] proclitics")
    )
    variants = _prefix_variants(matching.get("prefix_variants", {}), path)
    markers = _strings(layout.get("tail_markers", []), "layout.toml", "tail_markers")
    extra = _table(data.get("layout", {}), path, "[layout]")
    markers += _strings(extra.get("tail_markers", []), path, "[layout] tail_markers")

    raw_concepts = data.get("concept")
    if not isinstance(raw_concepts, list) or not raw_concepts:
        raise LexiconError(f"{path}: no [[concept]] entries")
    concepts = [_concept(raw, i, path, variants) for i, raw in enumerate(raw_concepts)]
    _check_links(concepts, path)

    digest = hashlib.sha256(
        "\0".join([ENGINE_VERSION, source, _layout_source(), tables_text()]).encode("utf-8")
    ).hexdigest()
    return Lexicon(
        topic=topic_id,
        name=str(topic.get("name", topic_id)),
        concepts=tuple(concepts),
        scoring=scoring,
        proclitics=proclitics,
        tail_markers=tuple(fold_term(m).strip() for m in markers if m.strip()),
        source=source,
        path=path,
        version=digest[:12],
    )


def _table(value: Any, path: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LexiconError(f"{path}: {where} must be a table")
    return cast(dict[str, Any], value)


def _strings(value: Any, path: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{path}: {where} must be a list of strings")
    return list(value)


def _scoring(raw: dict[str, Any], path: str) -> Scoring:
    defaults = Scoring()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not hasattr(defaults, key):
            raise LexiconError(f"{path}: [scoring] has unknown key {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise LexiconError(f"{path}: [scoring] {key} must be a non-negative number")
        values[key] = int(value) if key == "lead_chars" else float(value)
    scoring = Scoring(**values)
    if not 0 < scoring.mention_points <= scoring.relevant_points:
        raise LexiconError(f"{path}: [scoring] needs 0 < mention_points <= relevant_points")
    if not 0 <= scoring.repeat_decay < 1:
        raise LexiconError(f"{path}: [scoring] repeat_decay must be in [0, 1)")
    return scoring


def _prefix_variants(raw: Any, path: str) -> dict[str, list[str]]:
    table = _table(raw, path, "[matching] prefix_variants")
    return {
        fold_term(prefix): [
            fold_term(v) for v in _strings(alts, path, f"[matching] prefix_variants.{prefix}")
        ]
        for prefix, alts in table.items()
    }


def _with_variants(term: Term, variants: dict[str, list[str]]) -> list[Term]:
    """The term, plus copies whose first word takes each prefix variant (ال -> لل)."""
    out = [term]
    if term.exact_case:
        return out
    first = term.words[0]
    for prefix, alternatives in variants.items():
        if first.startswith(prefix) and len(first) > len(prefix):
            for alt in alternatives:
                words = (alt + first[len(prefix) :], *term.words[1:])
                out.append(Term(term.text, term.language, words, False))
    return out


def _concept(raw: Any, index: int, path: str, variants: dict[str, list[str]]) -> Concept:
    if not isinstance(raw, dict):
        raise LexiconError(f"{path}: [[concept]] #{index + 1} must be a table")
    cid = raw.get("id")
    if not isinstance(cid, str) or not cid:
        raise LexiconError(f"{path}: [[concept]] #{index + 1} has no id")
    where = f"{path}: concept {cid!r}"
    unknown = set(raw) - _CONCEPT_KEYS
    if unknown:
        raise LexiconError(f"{where}: unknown key(s) {sorted(unknown)}")
    role = raw.get("role", "core")
    if role not in ROLES:
        raise LexiconError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    weight = raw.get("weight", _DEFAULT_WEIGHT[role])
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise LexiconError(f"{where}: weight must be a non-negative number, not {weight!r}")
    exact = raw.get("exact_case", False)
    if not isinstance(exact, bool):
        raise LexiconError(f"{where}: exact_case must be true or false")
    voided_by = _strings(raw.get("voided_by", []), path, f"concept {cid!r} voided_by")
    if voided_by and role != "ambiguous":
        raise LexiconError(f"{where}: only ambiguous concepts can have voided_by")
    supported_by = _strings(raw.get("supported_by", []), path, f"concept {cid!r} supported_by")
    if supported_by and role != "ambiguous":
        raise LexiconError(f"{where}: only ambiguous concepts can have supported_by")
    terms_raw = raw.get("terms")
    if not isinstance(terms_raw, dict) or not terms_raw:
        raise LexiconError(f"{where}: needs a [concept.terms] table of language = [terms]")
    terms: list[Term] = []
    seen: set[tuple[str, ...]] = set()
    for lang, items in terms_raw.items():
        for text in _strings(items, path, f"concept {cid!r} terms.{lang}"):
            # The term in its language's other alphabets too (data/scripts): Kazakh
            # Cyrillic terms match Latin Kazakh, Uzbek ones either script, and so on.
            for spelling in (text, *spellings(text, lang)):
                term = _term(spelling, lang, exact, where)
                if term.key not in seen:
                    seen.add(term.key)
                    terms += _with_variants(term, variants)
    return Concept(
        id=cid,
        role=cast(Role, role),
        weight=float(weight),
        terms=tuple(terms),
        label=str(raw.get("label", "")),
        exact_case=exact,
        voided_by=tuple(voided_by),
        supported_by=tuple(supported_by),
    )


def _term(text: str, lang: str, exact: bool, where: str) -> Term:
    bad = f"{where}, term {text!r} ({lang})"
    if exact:
        if not text.strip() or any(c in text for c in " *[]"):
            raise LexiconError(f"{bad}: an exact_case term is a single word without * or []")
        return Term(text.strip(), lang, (fold_term(text.strip()),), True)
    words = fold_term(text).replace("-", " ").split()
    if not words:
        raise LexiconError(f"{bad}: empty term")
    for i, word in enumerate(words):
        optional = word.startswith("[") and word.endswith("]")
        core = word[1:-1] if optional else word
        stem = core[:-1] if core.endswith("*") else core
        if not stem or any(c in stem for c in "*[]"):
            raise LexiconError(f"{bad}: bad word {word!r} (use stem* or [optional])")
        if optional and i == 0:
            raise LexiconError(f"{bad}: the first word cannot be optional")
    return Term(text, lang, tuple(words), False)


def _check_links(concepts: list[Concept], path: str) -> None:
    by_id: dict[str, Concept] = {}
    for c in concepts:
        if c.id in by_id:
            raise LexiconError(f"{path}: concept {c.id!r} is defined twice")
        by_id[c.id] = c
    for c in concepts:
        for key, targets, role in (
            ("voided_by", c.voided_by, "counter"),
            ("supported_by", c.supported_by, "context"),
        ):
            for target in targets:
                other = by_id.get(target)
                if other is None:
                    raise LexiconError(f"{path}: concept {c.id!r} {key} unknown {target!r}")
                if other.role != role:
                    raise LexiconError(
                        f"{path}: concept {c.id!r} {key} {target!r}, which is not a {role}"
                    )
