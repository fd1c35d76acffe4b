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


_RESIDENT_TABLE = """
import json, sys
from monitor.language import detect
for text in json.load(open(sys.argv[1], encoding="utf-8")):
    detect(text)
kb, current = 0, None
for line in open("/proc/self/smaps"):
    fields = line.split()
    if not fields[0].endswith(":"):
        current = fields[-1]
    elif fields[0] == "Rss:" and current.endswith("nextmove.npy"):
        kb += int(fields[1])
print(kb)
"""


def test_a_process_keeps_only_the_rows_its_texts_reach(tmp_path: Path) -> None:
    """Each analysis worker maps the 39 MB tokenizer table; texts in our languages reach
    about a quarter of its rows, so a worker must not hold all of it in memory."""
    import os
    import subprocess
    import sys

    from monitor import language

    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps([s["text"][:600] for s in SAMPLES.values()]), encoding="utf-8")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def resident_kb() -> int:
        run = [sys.executable, "-c", _RESIDENT_TABLE, str(texts)]
        out = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
        return int(out.stdout)

    first, second = resident_kb(), resident_kb()  # unpacks, then maps what the first left
    table = language._tables_dir(tmp_path / "cache" / "oic-monitor") / "nextmove.npy"
    size_kb = table.stat().st_size // 1024
    assert 0 < first < size_kb / 4, (first, size_kb)
    assert 0 < second < size_kb / 4, (second, size_kb)
