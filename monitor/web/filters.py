"""The list filters as a query string: parsed into an `ItemQuery`, and written back for links.

`?tier=relevant&tier=mention&language=ru&language=kk&source=...&since=2024-03-01&until=...
&q=...&show=unread&page=2`. Several values of one key are alternatives. Without `tier` the
list shows relevant stories, and without `show` the unread ones: an analyst's morning. An
explicit `tier=any` (or an empty `tier=`, as a form with no tier ticked sends) lifts the tier
filter. Bad values are dropped and named, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from monitor.store.queries import SHOW, TIERS, UNCLASSIFIED, ItemQuery

ANY = "any"
DEFAULT_TIERS = ("relevant",)
MAX_VALUE = 200  # characters of one filter value; longer ones are not names of anything


@dataclass(frozen=True)
class Filters:
    query: ItemQuery
    problems: list[str]
    pairs: list[tuple[str, str]]  # the filters as given, canonical, without the page

    def qs(self, **changes: str | None) -> str:
        """This query string ("?..." or ""), with keys replaced (None drops a key)."""
        pairs = [(k, v) for k, v in self.pairs if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return "?" + urlencode(pairs) if pairs else ""

    def has(self, key: str, value: str) -> bool:
        return (key, value) in self.pairs

    def value(self, key: str) -> str:
        return next((v for k, v in self.pairs if k == key), "")

    @property
    def count(self) -> int:
        """How many filters narrow the list beyond the defaults (for the filter button)."""
        keys = {k for k, _ in self.pairs if k not in ("show",)}
        return len(keys)


def _values(params: QueryParams, key: str) -> list[str]:
    return list(dict.fromkeys(v.strip()[:MAX_VALUE] for v in params.getlist(key) if v.strip()))


def parse_filters(
    params: QueryParams, per_page: int, *, show: str = "unread", analyst: str | None = None
) -> Filters:
    """The filters of a query string; `show` is the read-state default when none is given."""
    problems: list[str] = []
    pairs: list[tuple[str, str]] = []

    tiers: tuple[str, ...] = DEFAULT_TIERS
    if "tier" in params:
        given = _values(params, "tier")
        good = [t for t in given if t in (*TIERS, UNCLASSIFIED)]
        for bad in (t for t in given if t not in (*TIERS, UNCLASSIFIED, ANY)):
            problems.append(f"tier: expected one of {', '.join(TIERS)}, got {bad!r}")
        tiers = () if ANY in given or not good else tuple(good)
        pairs += [("tier", t) for t in tiers] or [("tier", ANY)]
    languages = tuple(_values(params, "language"))
    sources = tuple(_values(params, "source"))
    pairs += [("language", v) for v in languages] + [("source", v) for v in sources]

    days: dict[str, date | None] = {"since": None, "until": None}
    for key in days:
        raw = params.get(key, "").strip()
        if not raw:
            continue
        try:
            days[key] = date.fromisoformat(raw)
            pairs.append((key, raw))
        except ValueError:
            problems.append(f"{key}: expected a date like 2024-03-05, got {raw[:40]!r}")
    text = params.get("q", "").strip()[:MAX_VALUE] or None
    if text:
        pairs.append(("q", text))

    wanted = params.get("show", "").strip()
    if wanted and wanted not in SHOW:
        problems.append(f"show: expected one of {', '.join(SHOW)}, got {wanted[:40]!r}")
        wanted = ""
    if wanted:
        show = wanted
        pairs.append(("show", wanted))
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    query = ItemQuery(
        tiers=tiers,
        languages=languages,
        sources=sources,
        since=days["since"],
        until=days["until"],
        text=text,
        show=show,
        analyst=analyst,
        page=page,
        per_page=per_page,
    )
    return Filters(query, problems, pairs)


def feed_query(filters: Filters) -> ItemQuery:
    """What a feed of these filters carries: every story, whoever has read it."""
    return replace(filters.query, show="all", analyst=None)
