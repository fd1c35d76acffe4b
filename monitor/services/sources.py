"""Managing the configured sources: add one found at a URL, remove one, import and export
OPML. Every change is written into the config file, keeping its comments (config_edit)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import Settings, Source, parse_duration
from monitor.config_edit import add_sources, duplicate_of, remove_source, source_name
from monitor.errors import ConfigEditError, InputError
from monitor.fetch import Fetcher, FetchError
from monitor.files import read_bytes
from monitor.sources import SourceError, reader_for
from monitor.sources.discover import Discovery, Kind
from monitor.sources.lists import Lists
from monitor.sources.opml import ImportPlan, export_opml, parse_opml, plan_import

OPML_TITLE = "oic-monitor sources"


@dataclass(frozen=True)
class NewSource:
    """A source found at a URL, not yet written: what `sources add` shows before adding."""

    found: Discovery
    name: str
    interval: str | None
    language: str | None

    def table(self) -> dict[str, Any]:
        """Its [[sources]] table (keys left unset are not written)."""
        return {
            "name": self.name,
            "url": self.found.url,
            "kind": self.found.kind,
            "interval": self.interval,
            "language": self.language,
        }


def check_new(settings: Settings, url: str, *, name: str | None, interval: str | None) -> None:
    """Refuse, before any fetch, what `sources add` could not write: a taken name, a URL
    already configured, a bad interval."""
    if interval is not None:
        try:
            parse_duration(interval)
        except ValueError as e:
            raise InputError(f"--interval: {e}") from None
    if name is not None and any(s.name == name for s in settings.sources):
        raise ConfigEditError(f"a source named {name!r} already exists")
    _refuse_duplicate(settings, url)


def _refuse_duplicate(settings: Settings, url: str) -> None:
    if (dup := duplicate_of(url, settings.sources)) is not None:
        raise ConfigEditError(f"{url} is already configured as source {dup.name!r}")


async def find_source(
    settings: Settings,
    url: str,
    *,
    kind: Kind | None = None,
    name: str | None = None,
    interval: str | None = None,
    language: str | None = None,
) -> NewSource:
    """What `url` offers as a source, named after its title unless `name` is given.

    Raises DiscoveryError or FetchError when nothing there can be polled, ConfigEditError
    when what was found is already configured.
    """
    from monitor.fetch import Fetcher
    from monitor.sources.discover import discover

    check_new(settings, url, name=name, interval=interval)
    async with Fetcher(settings.fetch) as fetcher:
        found = await discover(fetcher, url, kind=kind)
    _refuse_duplicate(settings, found.url)
    taken = {s.name for s in settings.sources}
    return NewSource(found, name or source_name(found.title, found.url, taken), interval, language)


def add_source(settings: Settings, new: NewSource) -> Path:
    """Write the new source into the config file; the file's path."""
    path = config_file(settings)
    add_sources(path, [new.table()])
    return path


def remove(settings: Settings, name: str) -> Path:
    """Delete the source `name` from the config file, keeping the file's comments."""
    path = config_file(settings)
    remove_source(path, name)
    return path


def import_opml(settings: Settings, file: Path, *, dry_run: bool = False) -> ImportPlan:
    """Add the feeds of an OPML file (folders become tags, repeats are skipped)."""
    data = read_bytes(file)
    try:
        opml = parse_opml(data)
    except SourceError as e:
        raise InputError(f"{file}: {e}") from None
    plan = plan_import(opml, settings.sources)
    if plan.tables and not dry_run:
        add_sources(config_file(settings), plan.tables)
    return plan


def export(settings: Settings) -> bytes:
    """The configured sources as an OPML 2.0 document, folders by first tag."""
    return export_opml(settings.sources, title=OPML_TITLE)


def config_file(settings: Settings) -> Path:
    return Path(str(settings.config_path))


@dataclass(frozen=True)
class Checked:
    """One source as `sources check` found it."""

    source: Source
    result: str  # "ok", "reachable, but lists no articles" or "FAILED: why"
    entries: int  # distinct article URLs its lists show
    delay: float  # seconds between requests to its host


async def check_sources(settings: Settings, chosen: Sequence[Source]) -> list[Checked]:
    """Fetch and parse each source's lists once, as a poll reads them, storing nothing: the
    HTTP client is all this needs, not the database."""
    sitemaps = {s.url for s in settings.sources if s.kind == "sitemap" and s.enabled}

    async def check(fetcher: Fetcher, source: Source) -> tuple[str, int]:
        # Other sources' own sitemaps are theirs, as in a poll.
        lists = Lists(fetcher, source, known=None, others=sitemaps - {source.url})
        try:
            pages = await reader_for(source, lists).latest()
        except (FetchError, SourceError) as e:
            return f"FAILED: {e}", 0
        n = len({e.url for p in pages for e in p.entries})
        return ("ok" if n else "reachable, but lists no articles"), n

    async with Fetcher(settings.fetch) as fetcher:
        found = await asyncio.gather(*(check(fetcher, s) for s in chosen))
        # After the check each host's robots.txt is known, so this asks for nothing new.
        return [
            Checked(s, result, n, await fetcher.delay_for(s.url))
            for s, (result, n) in zip(chosen, found, strict=True)
        ]
