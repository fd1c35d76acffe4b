"""URL helpers: one canonical form per article URL, so a link seen twice is known once, and
the publication date an article URL states ("/2024/03/05/", "2024-03-05-slug", "?date=").

Written here rather than taken from courlan (installed with trafilatura), whose
`normalize_url` and `is_external` are made for crawl frontiers, not for keys that must stay
stable: it sorts query parameters and drops blank ones, strips any parameter whose name
starts with "ref", "source", "keyword", "ga", "cid" and the like (so distinct pages such as
?gallery=5 and ?keyword=x collapse into one), decodes punycode hosts, lower-cases user
names and passwords, leaves percent-escapes and "." segments as they are, and judges "same
site" by a heuristic on the domain that ignores ports. Canonical URLs are stored (seen_url
rows), so any change to this form makes known articles look new once.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urljoin, urlsplit, urlunsplit

# Query parameters that only say where a click came from. Matched case-insensitively on the
# decoded name; every name starting with "utm_" is tracking too. Generic names such as
# "from", "ref" or "share" are kept: news sites use them for paging and real content.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # ad and social click ids
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "yclid",
        "ysclid",
        "msclkid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "ref_src",
        "ref_url",
        "fb_action_ids",
        "fb_action_types",
        "fb_ref",
        "fb_source",
        # analytics and mailing tools
        "_ga",
        "_gl",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "_openstat",
        "spm",
        "wickedid",
        "__twitter_impression",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters: percent-encoding them changes nothing, so decode them.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are in a path or query: unreserved, reserved and "%".
_KEEP = _UNRESERVED | frozenset(":/?#[]@!$&'()*+,;=%")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")

EARLIEST_URL_YEAR = 1995  # no news site dated its URLs before the web had news sites
# Dates in article URLs, most specific first. Each needs a separator or the end after it,
# so "/2024/03/051234" or "/20240305123" (numeric ids) are not read as dates.
_URL_DATE_PATTERNS = (
    re.compile(r"/(\d{4})/(\d{1,2})/(\d{1,2})(?=[/_.-]|$)"),
    re.compile(r"(?<![\d])(\d{4})-(\d{2})-(\d{2})(?=[/_.-]|$)"),
    re.compile(r"/(\d{4})(\d{2})(\d{2})(?=[/_.-]|$)"),
)
_QUERY_DATE = re.compile(r"(?:^|&)[^=&]*=(\d{4})-(\d{2})-(\d{2})(?=&|$)")
_URL_MONTH = re.compile(r"/(\d{4})/(\d{1,2})(?=/|$)")


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical form of `url` (resolved against `base` if given).

    Lower-case scheme and host, no default port, no fragment, no tracking parameters (the
    others keep their order), "/" for an empty path, percent-encoding normalised (upper-case
    hex, unreserved characters decoded, non-ASCII characters encoded as UTF-8).
    """
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = _netloc(scheme, parts.netloc)
    path = _remove_dot_segments(_normalise_escapes(parts.path))
    if not path and netloc:
        path = "/"
    query = _clean_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    """The lower-case host name of `url` ("" if it has none)."""
    return (urlsplit(url.strip()).hostname or "").rstrip(".")


def same_site(url: str, other: str) -> bool:
    """True when both URLs have the same host, ignoring a leading "www."."""
    a, b = host_of(url).removeprefix("www."), host_of(other).removeprefix("www.")
    return bool(a) and a == b


def _netloc(scheme: str, netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    # The port is after the last ":" unless that ":" is inside an IPv6 literal.
    if ":" in hostport and not hostport.endswith("]"):
        host, _, port = hostport.rpartition(":")
    if port and port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme):
        port = ""
    hostport = host.lower() + (f":{port}" if port else "")
    return f"{userinfo}{at}{hostport}"


def _normalise_escapes(part: str) -> str:
    """Upper-case hex escapes, decode unreserved ones, encode what may not stand bare."""

    def fix(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else "%" + m.group(1).upper()

    out: list[str] = []
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "%":
            m = _PCT.match(part, i)
            out.append(fix(m) if m else "%25")
            i += 3 if m else 1
            continue
        out.append(ch if ch in _KEEP else "".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments (RFC 3986, section 5.2.4)."""
    if "." not in path or not path.startswith("/"):
        return path
    segments = path.split("/")
    out: list[str] = []
    for seg in segments:
        if seg == ".":
            continue
        if seg == "..":
            if len(out) > 1:
                out.pop()
            continue
        out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/".join(out)


def _is_tracking(name: str) -> bool:
    name = _PCT.sub(lambda m: chr(int(m.group(1), 16)), name).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        if not _is_tracking(name):
            kept.append(_normalise_escapes(pair))
    return "&".join(kept)


# --- dates in URLs -----------------------------------------------------------------------


def url_date(url: str) -> date | None:
    """The publication day written in an article URL, if it clearly has one.

    /2024/03/05/, /2024-03-05-slug, /20240305/ and ?date=2024-03-05. Impossible dates,
    years before 1995 and days after tomorrow give None: such numbers are ids, not dates.
    """
    found = _url_day(url)
    return found[0] if found and found[1] else None


def url_days(url: str) -> tuple[date, date] | None:
    """The first and last day an article URL says it may be from: its date, or the whole
    month of a month-only URL ("/2024/03/" may be any day of March 2024)."""
    found = _url_day(url)
    if found is None:
        return None
    day, exact = found
    if exact:
        return day, day
    return day, day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _url_day(url: str) -> tuple[date, bool] | None:
    """(day, True) for a full date in the URL, (first of the month, False) for a month."""
    parts = urlsplit(url)
    full_date_seen = False
    for pattern in _URL_DATE_PATTERNS:
        for m in pattern.finditer(parts.path):
            found = _plausible_day(m.group(1), m.group(2), m.group(3))
            if found:
                return found, True
            full_date_seen = True
    for m in _QUERY_DATE.finditer(parts.query):
        found = _plausible_day(m.group(1), m.group(2), m.group(3))
        if found:
            return found, True
    if full_date_seen:
        return None  # "/2024/02/30/" is a broken date, not February
    for m in _URL_MONTH.finditer(parts.path):
        found = _plausible_day(m.group(1), m.group(2), "1")
        if found:
            return found, False
    return None


def _plausible_day(year: str, month: str, day: str) -> date | None:
    try:
        found = date(int(year), int(month), int(day))
    except ValueError:
        return None
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    return found if found.year >= EARLIEST_URL_YEAR and found <= tomorrow else None
