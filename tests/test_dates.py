from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.dates import find_date_in_text, iter_dates, parse_date


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# (text, language hint, expected) — forms seen on the sources, in all project languages.
CASES: list[tuple[str, str | None, datetime | None]] = [
    ("24 марта 2022 г. 0:08", "ru", utc(2022, 3, 24, 0, 8)),
    ("13.01.2026, 13:31", "kk", utc(2026, 1, 13, 13, 31)),
    ("10:43, 18 мая 2018, Бишкек - 24.kg", "ru", utc(2018, 5, 18, 10, 43)),
    ("18:12, 28 Қараша 2011 | GMT +5", "kk", utc(2011, 11, 28, 13, 12)),
    ("13 қаңтар 2026", "kk", utc(2026, 1, 13)),
    ("2025 жылғы 23 қыркүйекте", "kk", utc(2025, 9, 23)),
    ("Date: 18/01/2022", "en", utc(2022, 1, 18)),
    ("4 mars 2024", "fr", utc(2024, 3, 4)),
    ("1er avril 2024 à 14h30", "fr", utc(2024, 4, 1, 14, 30)),
    ("2024-yil 5-mart", "uz", utc(2024, 3, 5)),
    ("5 март 2024 й.", "uz", utc(2024, 3, 5)),
    ("4 مارس 2024", "ar", utc(2024, 3, 4)),
    ("15 كانون الثاني 2024", "ar", utc(2024, 1, 15)),
    ("۱۵ ژانویه ۲۰۲۴", "fa", utc(2024, 1, 15)),
    ("5 Mart 2024", "tr", utc(2024, 3, 5)),
    ("5 Mart 2024", "az", utc(2024, 3, 5)),
    ("5 Mart 2024", None, utc(2024, 3, 5)),  # dateparser alone said 25 May
    ("15 Şubat 2023 Çarşamba", "tr", utc(2023, 2, 15)),
    ("12 avqust 2024, 09:15", "az", utc(2024, 8, 12, 9, 15)),
    ("5 ýanwar 2024", "tk", utc(2024, 1, 5)),
    ("23-nji iýulda 2023", "tk", utc(2023, 7, 23)),
    ("12 марти соли 2024", "tg", utc(2024, 3, 12)),
    ("12.03.2024 10:00", "tg", utc(2024, 3, 12, 10, 0)),
    ("2024-жылдын 12-июлунда", "ky", utc(2024, 7, 12)),
    ("Бишкек, 02.03.19. /Кабар/", "ru", utc(2019, 3, 2)),
    ("Октябрь 17, 2016 14:41", "ru", utc(2016, 10, 17, 14, 41)),
    ("13:33 / 2025-03-09", "ru", utc(2025, 3, 9, 13, 33)),
    ("29.07.2016 18:16НОВОСТИ В МИРЕ", "ru", utc(2016, 7, 29, 18, 16)),
    ("March 5th, 2024", "en", utc(2024, 3, 5)),
    ("2024-03-05T10:00:00+06:00", None, utc(2024, 3, 5, 4, 0)),
    ("2024-03-05T10:00:00Z", None, utc(2024, 3, 5, 10, 0)),
    ("Tue, 05 Mar 2024 10:00:00 +0600", "en", utc(2024, 3, 5, 4, 0)),
    ("2024/03/05", None, utc(2024, 3, 5)),
    # No year: not guessed without a reference date.
    ("Bakou, 18 mars, AZERTAC", "fr", None),
    ("вчера", "ru", None),
    ("Главная", "ru", None),
    ("", None, None),
]


@pytest.mark.parametrize(("text", "language", "expected"), CASES)
def test_parse_date(text: str, language: str | None, expected: datetime | None) -> None:
    assert parse_date(text, language) == expected


@pytest.mark.parametrize(("text", "language", "expected"), CASES)
def test_results_are_aware_utc(text: str, language: str | None, expected: datetime | None) -> None:
    value = parse_date(text, language)
    if value is not None:
        assert value.utcoffset() == timedelta(0)


def test_date_without_year_is_anchored_by_a_reference() -> None:
    text = "Bakou, 18 mars, AZERTAC"
    assert parse_date(text, "fr", reference=utc(2024, 5, 1)) == utc(2024, 3, 18)
    # Not after the reference: 18 March of the year before.
    assert parse_date(text, "fr", reference=utc(2024, 3, 1)) == utc(2023, 3, 18)


def test_future_dates_are_rejected() -> None:
    next_year = datetime.now(UTC).year + 1
    assert parse_date(f"5 марта {next_year + 1}", "ru") is None
    assert parse_date(f"{next_year + 1}-01-01", None) is None


def test_dates_before_1990_are_rejected() -> None:
    assert parse_date("12.05.1985", "ru") is None
    assert parse_date("1989-12-31", None) is None


def test_two_digit_years_are_read_as_recent() -> None:
    assert parse_date("02.03.19", "ru") == utc(2019, 3, 2)
    assert parse_date("02.03.95", "ru") == utc(1995, 3, 2)


def test_impossible_days_are_rejected() -> None:
    assert parse_date("31.02.2024", "ru") is None
    assert parse_date("30 февраля 2024", "ru") is None


def test_tajik_and_turkmen_hints_do_not_break_dateparser_fallback() -> None:
    # A form our patterns do not read goes to dateparser, which has no tg or tk locale:
    # Tajik pages fall back to Russian, Turkmen to Turkish/Russian/English.
    assert parse_date("2024, 5 марта", "tg") == utc(2024, 3, 5)
    assert parse_date("2024, March 5", "tk") == utc(2024, 3, 5)
    assert parse_date("nonsense 12", "tk") is None


def test_aware_input_keeps_its_offset() -> None:
    value = parse_date("2024-03-05T10:00:00+05:00")
    assert value == datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=5)))
    assert value is not None and value.tzinfo == UTC


def test_find_date_in_text_takes_the_first_date_near_the_start() -> None:
    text = (
        "13.01.2026, 13:31 636\n"
        "Жиддада ИЫҰ Байланыс тобының сапарына дайындық талқыланды\n"
        "2025 жылғы 23 қыркүйекте БҰҰ Бас Ассамблеясының сессиясы өтті."
    )
    assert find_date_in_text(text, "kk") == utc(2026, 1, 13, 13, 31)


def test_find_date_in_text_looks_only_at_the_start() -> None:
    text = "Министр провёл встречу. " * 40 + "24 марта 2022 г."
    assert find_date_in_text(text, "ru") is None
    assert find_date_in_text(text, "ru", limit=len(text)) == utc(2022, 3, 24)


def test_find_date_in_text_ignores_a_date_without_year() -> None:
    assert find_date_in_text("12 июля в г. Абиджан прошла сессия СМИД ОИС.", "ru") is None


def test_iter_dates_reports_positions() -> None:
    text = "Обновлено: 12 сентября 2025 г. 8:57 | Аида Балаева"
    (found,) = list(iter_dates(text))
    assert text[found.start : found.end] == "12 сентября 2025 г. 8:57"
    assert found.value == utc(2025, 9, 12, 8, 57)
