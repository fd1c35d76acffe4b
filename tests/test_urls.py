from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.urls import TRACKING_PARAMS, canonical_url, host_of, same_site, url_date, url_days


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Inform.KZ/ru/News", "http://www.inform.kz/ru/News"),
        ("http://inform.kz:80/a", "http://inform.kz/a"),
        ("https://inform.kz:443/a", "https://inform.kz/a"),
        ("https://inform.kz:8443/a", "https://inform.kz:8443/a"),
        ("http://inform.kz:443/a", "http://inform.kz:443/a"),
        ("https://inform.kz", "https://inform.kz/"),
        ("https://inform.kz?page=2", "https://inform.kz/?page=2"),
        ("https://inform.kz/a#comments", "https://inform.kz/a"),
        ("https://inform.kz/a?#", "https://inform.kz/a"),
        ("  https://inform.kz/a \n", "https://inform.kz/a"),
        ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
        ("https://user:Pass@Host.kz/a", "https://user:Pass@host.kz/a"),
    ],
)
def test_scheme_host_port_fragment(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_path_case_is_kept() -> None:
    assert canonical_url("https://kt.kz/RUS/All") == "https://kt.kz/RUS/All"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://kt.kz/a?utm_source=rss&utm_medium=feed", "https://kt.kz/a"),
        ("https://kt.kz/a?id=5&UTM_Campaign=x&lang=ru", "https://kt.kz/a?id=5&lang=ru"),
        ("https://kt.kz/a?fbclid=IwAR0&gclid=1&yclid=2&id=7", "https://kt.kz/a?id=7"),
        ("https://kt.kz/a?_ga=2.1&_gl=1*x&mc_cid=a&mc_eid=b", "https://kt.kz/a"),
        ("https://kt.kz/a?igshid=x&ref_src=twsrc&spm=a.b&msclkid=c&dclid=d", "https://kt.kz/a"),
        ("https://kt.kz/a?utm%5Fsource=x&id=1", "https://kt.kz/a?id=1"),
    ],
)
def test_tracking_params_removed(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_other_params_keep_their_order_and_values() -> None:
    url = "https://mfa.uz/news?z=1&a=2&from=20&ref=main&a=3&q=a+b&empty="
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://a.kz/photo?gallery=5",
        "https://a.kz/search?keyword=oic",
        "https://a.kz/news.php?cid=3&id=5",
        "https://a.kz/item?source=mfa",
        "https://a.kz/news/1?print",
    ],
)
def test_parameters_that_name_content_are_kept(url: str) -> None:
    # Generic names like these select real pages on news sites: dropping them would make
    # two articles one URL, and the second would never be fetched.
    assert canonical_url(url) == url


def test_empty_query_pairs_dropped() -> None:
    assert canonical_url("https://mfa.uz/news?&a=1&&b=2&") == "https://mfa.uz/news?a=1&b=2"


def test_tracking_list_is_a_frozenset_of_lower_case_names() -> None:
    assert isinstance(TRACKING_PARAMS, frozenset)
    assert all(name == name.lower() for name in TRACKING_PARAMS)
    assert {"fbclid", "gclid", "yclid", "_ga", "spm"} <= TRACKING_PARAMS


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.kz/%7euser/%41b", "https://a.kz/~user/Ab"),
        ("https://a.kz/x%2fy%3a", "https://a.kz/x%2Fy%3A"),
        ("https://a.kz/%d0%bf", "https://a.kz/%D0%BF"),
        ("https://a.kz/новости/1", "https://a.kz/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1"),
        ("https://a.kz/a b", "https://a.kz/a%20b"),
        ("https://a.kz/50%", "https://a.kz/50%25"),
        ("https://a.kz/s?q=%d0%b6&t=ж", "https://a.kz/s?q=%D0%B6&t=%D0%B6"),
        ("https://a.kz/s?q=a%26b", "https://a.kz/s?q=a%26b"),
    ],
)
def test_percent_encoding_normalised(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_raw_and_encoded_cyrillic_are_one_url() -> None:
    assert canonical_url("https://a.kz/новости") == canonical_url(
        "https://a.kz/%d0%bd%d0%be%d0%b2%d0%be%d1%81%d1%82%d0%b8"
    )


def test_idna_host_kept_as_given() -> None:
    assert canonical_url("https://XN--80AO21A.XN--P1AI/a") == "https://xn--80ao21a.xn--p1ai/a"
    assert canonical_url("https://Пример.РФ/a").startswith("https://пример.рф/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/ru/news/1?utm_source=x", "https://mfa.kz/ru/news/1"),
        ("2#top", "https://mfa.kz/ru/news/2"),
        ("../about", "https://mfa.kz/ru/about"),
        ("//Cdn.MFA.kz/x", "https://cdn.mfa.kz/x"),
        ("http://other.kz", "http://other.kz/"),
        ("?page=3", "https://mfa.kz/ru/news/?page=3"),
    ],
)
def test_relative_resolved_against_base(url: str, expected: str) -> None:
    assert canonical_url(url, base="https://mfa.kz/ru/news/") == expected


def test_dot_segments_removed() -> None:
    assert canonical_url("https://a.kz/a/./b/../c/") == "https://a.kz/a/c/"
    assert canonical_url("https://a.kz/../../x") == "https://a.kz/x"


def test_canonical_is_idempotent() -> None:
    url = canonical_url("HTTPS://Kt.kz:443/a/../новости?b=1&utm_term=x&a=%7e#f")
    assert canonical_url(url) == url


def test_host_of() -> None:
    assert host_of("https://WWW.Kabar.KG:8080/rss") == "www.kabar.kg"
    assert host_of("/relative/path") == ""


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.kabar.kg/a", "http://kabar.kg/b", True),
        ("https://KABAR.kg/a", "https://www.kabar.kg", True),
        ("https://kabar.kg/a", "https://en.kabar.kg/a", False),
        ("https://24.kg/a", "https://24-kg.com/a", False),
        ("/a", "/b", False),
    ],
)
def test_same_site(a: str, b: str, same: bool) -> None:
    assert same_site(a, b) is same


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.kz/ru/news/2024/03/05/oic-session", date(2024, 3, 5)),
        ("https://a.kz/news/2024/3/5/", date(2024, 3, 5)),
        ("https://a.kz/news/2024-03-05/slug", date(2024, 3, 5)),
        ("https://a.kz/news/oic-session-2024-03-05.html", date(2024, 3, 5)),
        ("https://a.kz/news/20240305/", date(2024, 3, 5)),
        ("https://a.kz/news/20240305-oic-session", date(2024, 3, 5)),
        ("https://a.kz/news/list?date=2024-03-05", date(2024, 3, 5)),
        ("https://a.kz/news/list?lang=ru&d=2024-03-05&page=2", date(2024, 3, 5)),
        ("https://a.kz/archive/2024/03/", None),  # a month is not a day: see url_days
        ("https://a.kz/archive/2024/03", None),
        ("https://a.kz/uz/press/news/2024/slug---1305", None),  # a year alone is not a date
        ("https://a.kz/news/2024/02/30/slug", None),  # impossible day
        ("https://a.kz/news/2024/13/01/slug", None),  # impossible month
        ("https://a.kz/news/1890/03/05/slug", None),  # year out of range
        ("https://a.kz/news/2101-01-01/slug", None),
        ("https://a.kz/news/48213", None),
        ("https://a.kz/news/202403051234", None),  # a long numeric id
        ("https://a.kz/img/1200x630/photo.jpg", None),
    ],
)
def test_the_publication_day_written_in_an_article_url(url: str, expected: date | None) -> None:
    assert url_date(url) == expected


def test_a_month_in_the_url_spans_the_whole_month() -> None:
    assert url_days("https://a.kz/archive/2024/02/") == (date(2024, 2, 1), date(2024, 2, 29))
    assert url_days("https://a.kz/archive/2024/03") == (date(2024, 3, 1), date(2024, 3, 31))
    assert url_days("https://a.kz/news/2024/02/30/slug") is None  # a broken date, not February
    assert url_days("https://a.kz/news/48213") is None


def test_a_date_after_tomorrow_in_a_url_is_an_id_not_a_date() -> None:
    later = (datetime.now(UTC) + timedelta(days=3)).date()
    assert url_date(f"https://a.kz/news/{later:%Y/%m/%d}/slug") is None
    today = datetime.now(UTC).date()
    assert url_date(f"https://a.kz/news/{today:%Y-%m-%d}-slug") == today
