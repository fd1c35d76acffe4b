"""Publication dates written by people: "24 марта 2022 г. 0:08", "28 Қараша 2011", "5-mart"...

Numeric forms and month-name forms are read with our own patterns and the month table in
``data/months.toml`` (dateparser has no Tajik or Turkmen and guesses wrong on Turkic month
names without a hint); anything else goes to dateparser with a language hint.

Every result is timezone-aware UTC. A date with no zone is taken as UTC: the sites do not
say which zone they mean, and a day-level date is what matters downstream. Dates before
1990 or more than a day in the future are rejected; a date without a year is only read
when the caller gives a reference date to anchor it (else None, never "this year").
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)
TEXT_SCAN_CHARS = 500

# Eastern Arabic (Arabic and Persian) digits to ASCII; one char each, so offsets hold.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# dateparser locales to try per project language (it knows neither tg nor tk).
_DATEPARSER_LANGUAGES: dict[str, list[str]] = {
    "ru": ["ru"],
    "kk": ["kk", "ru"],
    "ky": ["ky", "ru"],
    "uz": ["uz", "uz-Cyrl", "ru"],
    "tg": ["ru"],
    "tk": ["tr", "ru", "en"],
    "az": ["az", "ru"],
    "tr": ["tr"],
    "fa": ["fa", "en"],
    "ar": ["ar", "en"],
    "fr": ["fr"],
    "en": ["en"],
}
_DATEPARSER_DEFAULT = ["ru", "en", "fr", "tr", "az", "kk", "uz", "ky", "ar", "fa"]
_DATEPARSER_SETTINGS: dict[str, Any] = {
    "DATE_ORDER": "DMY",
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "PREFER_DATES_FROM": "past",
    # relative words ("вчера", "2 hours ago") are relative to the crawl, not the page
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
    # never let missing parts default to today's
    "REQUIRE_PARTS": ["day", "month", "year"],
}


@dataclass(frozen=True)
class _MonthForm:
    text: str  # lower case
    month: int
    stem: bool  # matches any word starting with it


@lru_cache(maxsize=1)
def _month_forms() -> list[_MonthForm]:
    """The month table as a list, longest form first."""
    raw = resources.files("monitor").joinpath("data/months.toml").read_text(encoding="utf-8")
    forms: dict[tuple[str, bool], int] = {}
    for months in tomllib.loads(raw).values():
        for number, names in months.items():
            for name in names:
                forms[name.lower().rstrip("-"), name.endswith("-")] = int(number)
    found = [_MonthForm(text, month, stem) for (text, stem), month in forms.items()]
    return sorted(found, key=lambda form: -len(form.text))


def _month_number(word: str) -> int | None:
    word = word.lower()
    for form in _month_forms():
        if word == form.text or (form.stem and word.startswith(form.text)):
            return form.month
    return None


@lru_cache(maxsize=4096)
def is_month_word(word: str) -> bool:
    """Whether ``word`` is a month name (any project language, any case ending)."""
    return _month_number(word) is not None


def _month_pattern() -> str:
    """A month name of any project language, as the group ``mon``."""
    forms = _month_forms()
    stems = "|".join(re.escape(f.text) for f in forms if f.stem)
    words = "|".join(re.escape(f.text) for f in forms if not f.stem)
    # A stem may carry a case ending; any other form must end the word.
    return (
        rf"(?<![^\W\d_])(?P<mon>(?:{stems})[^\W\d_]{{0,6}}"
        rf"|(?:{words})(?![^\W\d_]))\.?"
    )


@lru_cache(maxsize=1)
def _patterns() -> list[re.Pattern[str]]:
    month = _month_pattern()
    day = r"(?P<d>[0-3]?\d)"
    year = r"(?P<y>(?:19|20)\d{2})"
    day_suffix = r"(?:-?[^\W\d_]{1,5})?"  # "5-mart", "23-го", "1er"
    flags = re.IGNORECASE
    return [
        # 2024-03-09, 2024-03-09T10:15:00+05:00
        re.compile(
            rf"(?<!\d){year}-(?P<m>[01]?\d)-{day}(?!\d)"
            r"(?:[T ](?P<H>[0-2]?\d):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?(?:\.\d+)?"
            r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?"
        ),
        # 2024/03/09, 2024.03.09
        re.compile(rf"(?<!\d){year}[./](?P<m>[01]?\d)[./]{day}(?!\d)"),
        # 13.01.2026, 18/01/2022, 02.03.19 (day first, as everywhere in the region)
        re.compile(rf"(?<![\d.]){day}[./](?P<m>[01]?\d)[./](?P<y>\d{{4}}|\d{{2}})(?!\d)"),
        # 2024-yil 5-mart, 2025 жылғы 23 қыркүйекте, 2024-жылдын 12-июлу
        re.compile(
            rf"(?<!\d){year}\s*-?\s*(?:[^\W\d_]{{1,8}}\.?\s*){{0,2}}-?\s*{day}{day_suffix}"
            rf"[\s.\-]*{month}",
            flags,
        ),
        # Октябрь 17, 2016; March 5th, 2024
        re.compile(rf"{month}\s+{day}(?!\d)(?:st|nd|rd|th)?,?\s+{year}(?!\d)", flags),
        # 24 марта 2022, 28 Қараша 2011, 4 mars 2024, 5-mart, 18 mars (no year)
        re.compile(
            rf"(?<!\d){day}{day_suffix}[\s.\-]*{month}"
            rf"(?:[\s,.\-]*(?:соли\s+)?{year}(?!\d))?",  # Tajik "12 марти соли 2024"
            flags,
        ),
    ]


_TIME_AFTER = re.compile(
    r"[\s,]*(?:г\.|г\b|года|ж\.|жыл\w*|y\.|yil\w*|yılı)?[\s,|/–—-]*"
    r"(?:в|at|à|saat|soat|сағат|саат)?\s*"
    r"(?P<H>[0-2]?\d)[:h](?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?(?!\d)"
)
_TIME_BEFORE = re.compile(r"(?<!\d)(?P<H>[0-2]?\d):(?P<M>[0-5]\d)(?!\d)[\s,|/–—-]*$")
_ZONE_AFTER = re.compile(r"[\s|,]*(?:GMT|UTC)\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?")


@dataclass(frozen=True)
class DateMatch:
    """A date found in a text: where it was and what it means."""

    start: int
    end: int
    value: datetime


def _year(text: str) -> int:
    value = int(text)
    if len(text) == 2:
        # "02.03.19": this century unless that would be in the future
        value += 2000 if 2000 + value <= datetime.now(UTC).year + 1 else 1900
    return value


def _acceptable(value: datetime) -> bool:
    return EARLIEST <= value <= datetime.now(UTC) + FUTURE_TOLERANCE


def _zone(match: re.Match[str] | None, tz_text: str | None) -> timezone:
    if tz_text:
        if tz_text.upper() == "Z":
            return UTC
        sign = -1 if tz_text[0] == "-" else 1
        digits = tz_text[1:].replace(":", "")
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))
    if match:
        sign = -1 if match["sign"] == "-" else 1
        minutes = int(match["m"] or 0)
        return timezone(sign * timedelta(hours=int(match["h"]), minutes=minutes))
    return UTC


def _build(
    text: str, match: re.Match[str], reference: datetime | None
) -> tuple[datetime, int, int] | None:
    """The datetime a pattern match stands for, with its span widened to a nearby time."""
    groups = match.groupdict()
    month = _month_number(groups["mon"].rstrip(".")) if groups.get("mon") else int(groups["m"])
    if month is None:
        return None
    day = int(groups["d"])
    start, end = match.span()
    hour = minute = second = 0
    if groups.get("H") is not None:
        hour, minute, second = int(groups["H"]), int(groups["M"]), int(groups["S"] or 0)
    else:
        after = _TIME_AFTER.match(text, end)
        before = _TIME_BEFORE.search(text, max(0, start - 12), start)
        if after:
            hour, minute, second = int(after["H"]), int(after["M"]), int(after["S"] or 0)
            end = after.end()
        elif before:
            hour, minute = int(before["H"]), int(before["M"])
            start = before.start()
    zone_match = None if groups.get("tz") else _ZONE_AFTER.match(text, end)
    tz = _zone(zone_match, groups.get("tz"))
    try:
        if groups.get("y"):
            value = datetime(_year(groups["y"]), month, day, hour, minute, second, tzinfo=tz)
        elif reference is not None:
            anchor = (
                reference.astimezone(UTC) if reference.tzinfo else reference.replace(tzinfo=UTC)
            )
            value = datetime(anchor.year, month, day, hour, minute, second, tzinfo=tz)
            if value > anchor + FUTURE_TOLERANCE:
                value = value.replace(year=anchor.year - 1)
        else:
            return None
    except ValueError:  # 31 February, hour 25, 29 February in a common year
        return None
    value = value.astimezone(UTC)
    return (value, start, end) if _acceptable(value) else None


def iter_dates(text: str, *, reference: datetime | None = None) -> Iterator[DateMatch]:
    """Every readable date in ``text``, in order of position (the longest at one position)."""
    text = text.translate(_DIGITS)
    found: list[DateMatch] = []
    for pattern in _patterns():
        for match in pattern.finditer(text):
            built = _build(text, match, reference)
            if built:
                value, start, end = built
                found.append(DateMatch(start, end, value))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    last_end = -1
    for item in found:
        if item.start >= last_end:  # skip matches inside one already given
            last_end = item.end
            yield item


def _dateparser(text: str, language: str | None) -> datetime | None:
    import dateparser  # slow to import; only needed for unusual forms

    languages = _DATEPARSER_LANGUAGES.get(language or "", _DATEPARSER_DEFAULT)
    try:
        value = dateparser.parse(text, languages=languages, settings=_DATEPARSER_SETTINGS)
    except (ValueError, OverflowError):
        return None
    if value is None:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value if _acceptable(value) else None


def _machine_date(text: str) -> datetime | None:
    """ISO 8601 (meta tags, JSON-LD) or RFC 2822 (feeds, HTTP), as aware UTC."""
    value: datetime | None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _base_language(language: str | None) -> str | None:
    return language.lower().replace("_", "-").split("-")[0] if language else None


def parse_date(
    text: str, language: str | None = None, *, reference: datetime | None = None
) -> datetime | None:
    """One date string in any of the project's languages and formats, as aware UTC.

    ``reference`` anchors a date written without a year ("18 mars") to the latest such
    date not after it; without it such dates give None.
    """
    text = text.strip().translate(_DIGITS)
    if not text:
        return None
    value = _machine_date(text)
    if value is not None:
        return value if _acceptable(value) else None
    for item in iter_dates(text, reference=reference):
        return item.value
    if not any(ch.isdigit() for ch in text):
        return None  # no day or year to find: dateparser would only guess
    return _dateparser(text, _base_language(language))


def find_date_in_text(
    text: str,
    language: str | None = None,
    *,
    reference: datetime | None = None,
    limit: int = TEXT_SCAN_CHARS,
) -> datetime | None:
    """The first date in the first ``limit`` characters of an article's text, as aware UTC.

    ``language`` is accepted for symmetry with parse_date: month names of every project
    language are read whatever it says, since pages mix languages.
    """
    head = text[:limit]
    for item in iter_dates(head, reference=reference):
        return item.value
    return None


# --- a month alone -----------------------------------------------------------------------

Precision = Literal["day", "month"]


@dataclass(frozen=True)
class FoundDate:
    """A date found in a text and how much of it was written there."""

    start: int
    end: int
    value: datetime  # the first day of the month when only the month is known
    precision: Precision


@lru_cache(maxsize=1)
def _month_patterns() -> list[re.Pattern[str]]:
    month = _month_pattern()
    year = r"(?P<y>(?:19|20)\d{2})"
    return [
        # 2023-03 (not 2023-03-09, not 2023-2024)
        re.compile(rf"(?<![\d\-]){year}-(?P<m>0[1-9]|1[0-2])(?![\d\-])"),
        # 03.2023, 03/2023
        re.compile(rf"(?<![\d./])(?P<m>0[1-9]|1[0-2])[./]{year}(?![\d./])"),
        # March 2023, mars 2023, март 2023 г., наурыз 2023
        re.compile(rf"{month}\s*,?\s+{year}(?!\d)", re.IGNORECASE),
        # 2023 жылғы наурыз, 2023-yil mart, 2023 yılı Mart
        re.compile(rf"(?<!\d){year}\s*-?\s*(?:[^\W\d_]{{1,8}}\.?\s*)?{month}", re.IGNORECASE),
    ]


def _month_dates(text: str) -> Iterator[FoundDate]:
    for pattern in _month_patterns():
        for match in pattern.finditer(text):
            groups = match.groupdict()
            month = _month_number(groups["mon"].rstrip(".")) if groups.get("mon") else None
            month = month or (int(groups["m"]) if groups.get("m") else None)
            if month is None:
                continue
            value = datetime(int(groups["y"]), month, 1, tzinfo=UTC)
            if _acceptable(value):
                yield FoundDate(match.start(), match.end(), value, "month")


HEADER_LINE_CHARS = 60  # a first line this short with a digit may be a "Date: ..." header


def date_near_top(
    text: str, language: str | None = None, *, limit: int = TEXT_SCAN_CHARS
) -> FoundDate | None:
    """The date written near the top of a text (its first ``limit`` characters): the first
    full date; else a short first line that dateparser reads in the text's ``language``;
    else the first month and year ("date 2023-03", "mars 2023", "2023 жылғы наурыз"), kept
    as that month. None when the top carries none of them."""
    head = text[:limit].translate(_DIGITS)
    for item in iter_dates(head):
        return FoundDate(item.start, item.end, item.value, "day")
    first = head.lstrip()
    line = first.split("\n", 1)[0].strip()
    if len(line) <= HEADER_LINE_CHARS and any(ch.isdigit() for ch in line):
        value = _dateparser(line, _base_language(language))
        if value is not None:
            start = head.index(line)
            return FoundDate(start, start + len(line), value, "day")
    return min(_month_dates(head), key=lambda d: d.start, default=None)
