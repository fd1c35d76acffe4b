import json
from pathlib import Path

import pytest

from monitor.language import LANGUAGES, detect, normalise_code

SAMPLES = json.loads(
    (Path(__file__).parent / "data" / "language_samples.json").read_text(encoding="utf-8")
)


def expected(key: str) -> str:
    return key.split("-")[0]  # uz-latn, uz-cyrl -> uz


def test_samples_cover_every_project_language() -> None:
    assert {expected(k) for k in SAMPLES} == set(LANGUAGES)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_news_text_is_identified(key: str) -> None:
    assert detect(SAMPLES[key]["text"]) == expected(key)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_first_200_characters_are_enough(key: str) -> None:
    assert detect(SAMPLES[key]["text"][:200]) == expected(key)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_title_alone_is_identified(key: str) -> None:
    assert detect(SAMPLES[key]["title"]) == expected(key)


@pytest.mark.parametrize("text", ["", "   ", "ОИС", "OIC 2024", "12.03.2024"])
def test_too_short_text_gives_the_hint(text: str) -> None:
    assert detect(text, hint="kk") == "kk"
    assert detect(text) is None


def test_hint_never_overrides_clear_evidence() -> None:
    assert detect(SAMPLES["ru"]["text"], hint="kk") == "ru"
    assert detect(SAMPLES["tr"]["text"], hint="az") == "tr"
    assert detect(SAMPLES["fa"]["text"], hint="ar") == "fa"


def test_hint_breaks_a_near_tie() -> None:
    # Names only: the model leans Russian but Kyrgyz is close behind.
    assert detect("Президент Токаев Астана ОИС") == "ru"
    assert detect("Президент Токаев Астана ОИС", hint="ky") == "ky"
    # Place names and acronyms: no language is likely, the source's language decides.
    assert detect("Islamabad OIC CFM 2024 Nouakchott", hint="fr") == "fr"


def test_hint_outside_the_project_languages_is_ignored() -> None:
    assert detect("ОИС", hint="de") is None
    assert detect(SAMPLES["en"]["text"], hint="de") == "en"


@pytest.mark.parametrize(
    ("code", "normalised"),
    [("uz-Cyrl", "uz"), ("ru_RU", "ru"), ("KK", "kk"), ("de", None), (None, None), ("", None)],
)
def test_hint_codes_are_normalised(code: str | None, normalised: str | None) -> None:
    assert normalise_code(code) == normalised


def test_persian_and_arabic_told_apart_by_their_letters() -> None:
    # Persian: گ پ چ and Persian yeh/keheh; Arabic: teh marbuta and Arabic yeh/kaf.
    assert detect("گزارش کنفرانس جده درباره همکاری کشورها") == "fa"
    assert detect("تقرير المنظمة حول المؤتمر في جدة والتعاون") == "ar"


def test_unpacked_model_ranks_as_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memory-mapped tables (shared by all processes) give py3langid's own scores."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from monitor import language

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    language._identifier.cache_clear()
    try:
        mapped = language._identifier()
        assert language.prepare_model() == language._tables_dir(tmp_path / "oic-monitor")
        packaged = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        packaged.set_languages(list(LANGUAGES))
        for sample in SAMPLES.values():
            assert mapped.rank(sample["text"][:600]) == packaged.rank(sample["text"][:600])
    finally:
        language._identifier.cache_clear()
