"""Languages written in more than one alphabet: Kazakh in Cyrillic and in the Latin
alphabets of 2018 and 2021, Uzbek in Latin and Cyrillic, Azerbaijani and Turkmen in Latin
and Cyrillic. Identified as their language, matched by the lexicon written once."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor.classify import load_classifier
from monitor.classify.lexicon import _term, default_lexicon_path
from monitor.language import detect
from monitor.transliterate import script_of, spellings
from tests.news_site import texts

DATA = Path(__file__).resolve().parent / "data"
KAZAKH: list[dict[str, str]] = json.loads((DATA / "kazakh_latin.json").read_text(encoding="utf-8"))
SAMPLES: dict[str, dict[str, str]] = json.loads(
    (DATA / "language_samples.json").read_text(encoding="utf-8")
)
IDS = [f"{d['alphabet']}-{d['kind']}-{i}" for i, d in enumerate(KAZAKH)]


@pytest.fixture(scope="module")
def classifier() -> Any:
    return load_classifier()


@pytest.mark.parametrize("doc", KAZAKH, ids=IDS)
def test_latin_kazakh_is_kazakh(doc: dict[str, str]) -> None:
    assert detect(doc["text"]) == "kk"
    assert detect(doc["text"][:200]) == "kk"
    assert detect(doc["title"] + "\n" + doc["text"], hint="kk") == "kk"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Islam yntymaqtastyǵy uıymy Astanada jınalady", "kk"),  # 2018: ǵ, ı
        ("IYU Syrtqy ister mınıstrleri keńesi ashyldy", "kk"),  # 2018: ı, ń
        ("İYU sessiiasy Astanada öttı, mäselelerı talqylandy", "kk"),  # 2021: ä
    ],
)
def test_a_latin_kazakh_title_is_kazakh_with_the_sources_hint(title: str, expected: str) -> None:
    assert detect(title, hint="kk") == expected


@pytest.mark.parametrize("key", ["tr", "az", "uz-latn", "tk", "en", "fr"])
def test_other_latin_languages_stay_themselves_even_on_a_kazakh_source(key: str) -> None:
    lang = key.split("-")[0]
    sample = SAMPLES[key]
    assert detect(sample["text"]) == lang
    assert detect(sample["text"], hint="kk") == lang
    assert detect(sample["text"][:200], hint="kk") == lang
    for line in texts()[lang]["sentences"] + texts()[lang]["headlines"]:
        assert detect(line) == lang, line
        assert detect(line, hint="kk") == lang, line


@pytest.mark.parametrize("doc", [d for d in KAZAKH if d["kind"] == "oic"], ids=str)
def test_oic_articles_in_latin_kazakh_are_relevant(doc: dict[str, str], classifier: Any) -> None:
    verdict = classifier.classify(doc["title"], doc["text"], "kk")
    assert verdict.tier == "relevant"
    terms = [e.term for e in verdict.evidence]
    # Evidence shows the words as the article wrote them, in its own alphabet.
    assert all(t in doc["title"] or t in doc["text"] for t in terms)
    assert any(script_of(t) == "latin" and " " in t for t in terms)


@pytest.mark.parametrize(
    "phrase", ["Islam yntymaqtastyǵy uıymy", "IYU Syrtqy ister mınıstrleri keńesi"]
)
def test_the_oic_named_in_latin_kazakh_scores(phrase: str, classifier: Any) -> None:
    verdict = classifier.classify(None, phrase, "kk")
    assert verdict.relevance > 0
    assert verdict.evidence[0].term == phrase


@pytest.mark.parametrize("doc", [d for d in KAZAKH if d["kind"] != "oic"], ids=str)
def test_intellectual_property_and_other_news_stay_not_relevant(
    doc: dict[str, str], classifier: Any
) -> None:
    verdict = classifier.classify(doc["title"], doc["text"], "kk")
    assert verdict.tier == "none"
    if doc["kind"] == "ip":  # ОИС here is "objects of intellectual property"
        assert any("oic.abbreviation.ois" in n and "not counted" in n for n in verdict.notes)


@pytest.mark.parametrize(
    ("text", "concept", "term"),
    [
        # Uzbek Cyrillic: the lexicon writes these terms in Latin only.
        ("Ислом ҳамкорлик ташкилоти Бош котиби Тошкентга келди.", "oic.name",
         "Ислом ҳамкорлик ташкилоти"),
        ("Ислом тараққиёт банки лойиҳани молиялаштиради.", "oic.institution",
         "Ислом тараққиёт банки"),
        # Azerbaijani and Turkmen Cyrillic, as older and regional texts write them.
        ("Ислам Әмәкдашлыг Тәшкилатынын сессијасы Бакыда кечирилди.", "oic.name",
         "Ислам Әмәкдашлыг Тәшкилатынын"),
        ("Ыслам хызматдашлык гураmasy", "oic.name", None),
        ("Ыслам Хызматдашлык Гурамасынын сессиясы Ашгабатда гечирилди.", "oic.name",
         "Ыслам Хызматдашлык Гурамасынын"),
    ],
)  # fmt: skip
def test_terms_match_in_the_other_alphabet(
    text: str, concept: str, term: str | None, classifier: Any
) -> None:
    found = [(e.concept, e.term) for e in classifier.classify(None, text).evidence]
    if term is None:  # mixed scripts inside one word match nothing
        assert found == []
    else:
        assert (concept, term) in found


def test_no_lexicon_term_is_written_again_in_another_alphabet() -> None:
    data = tomllib.loads(default_lexicon_path().read_text(encoding="utf-8"))
    twice = []
    for concept in data["concept"]:
        exact = concept.get("exact_case", False)
        for lang, terms in concept["terms"].items():
            written = {_term(t, lang, exact, "").key: t for t in terms}
            for t in terms:
                for other in spellings(t, lang):
                    key = _term(other, lang, exact, "").key
                    if key in written:
                        twice.append((concept["id"], t, written[key]))
    assert twice == []


@pytest.mark.parametrize(
    ("cyrillic", "latin_2018", "latin_2021"),
    [
        ("Ислам ынтымақтастығы ұйымы", "Islam yntymaqtastyǵy uıymy", "İslam yntymaqtastyğy uiymy"),
        ("ИЫҰ", "IYU", "İYU"),
        ("Қазақстан Республикасы", "Qazaqstan Respýblıkasy", "Qazaqstan Respūblikasy"),
        ("Шешім", "Sheshim", "Şeşım"),
    ],
)
def test_kazakh_spellings_follow_the_decrees(
    cyrillic: str, latin_2018: str, latin_2021: str
) -> None:
    assert spellings(cyrillic, "kk") == [latin_2018, latin_2021]
