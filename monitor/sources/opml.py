"""OPML, the subscription list every feed reader imports and exports.

Import: each outline with an xmlUrl is a feed (htmlUrl, the site's home page, is not
polled); the folders it sits in become its tags. Export: OPML 2.0 with one folder per
source's first tag, the other tags in the `category` attribute. Sitemap and listing
sources, which feed readers cannot use, are written as type="link" outlines with their
kind, so that an export imports back whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from lxml import etree

from monitor.config import Source
from monitor.config_edit import source_name
from monitor.sources import SourceError, reject_entity_declarations
from monitor.urls import canonical_url

KIND_ATTR = "oicKind"  # OPML lets outlines carry attributes of their own
INTERVAL_ATTR = "oicInterval"
MAX_DEPTH = 20  # folders nested deeper than this are read as if they were this deep


@dataclass(frozen=True)
class OpmlSource:
    title: str | None
    url: str
    kind: str = "feed"
    tags: tuple[str, ...] = ()
    language: str | None = None
    interval: str | None = None


@dataclass
class Opml:
    title: str | None
    sources: list[OpmlSource]


@dataclass
class ImportPlan:
    tables: list[dict[str, Any]] = field(default_factory=list)  # new [[sources]] tables
    skipped: list[tuple[OpmlSource, str]] = field(default_factory=list)  # (outline, why)


def parse_opml(content: bytes) -> Opml:
    """The feeds (and exported sitemap/listing sources) of an OPML document.

    Raises SourceError "bad_xml" for a document that is not well-formed or has no <body>,
    "xml_entities" for one that declares entities.
    """
    reject_entity_declarations(content)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as e:
        raise SourceError(f"not well-formed OPML: {e}", reason="bad_xml") from None
    body = root.find("body")
    if etree.QName(root).localname != "opml" or body is None:
        raise SourceError("not an OPML document (no <opml><body>)", reason="bad_xml")
    title = root.findtext("head/title")
    sources: list[OpmlSource] = []
    _walk(body, (), sources)
    return Opml(title=title.strip() if title else None, sources=sources)


def _walk(parent: etree._Element, folders: tuple[str, ...], out: list[OpmlSource]) -> None:
    for outline in parent.iterchildren("outline"):
        text = (outline.get("title") or outline.get("text") or "").strip() or None
        found = _source(outline, text, folders)
        if found is not None:
            out.append(found)
        elif text and len(folders) < MAX_DEPTH:
            _walk(outline, (*folders, text), out)
        else:
            _walk(outline, folders, out)


def _source(
    outline: etree._Element, title: str | None, folders: tuple[str, ...]
) -> OpmlSource | None:
    kind = outline.get(KIND_ATTR) or "feed"
    url = outline.get("xmlUrl") or outline.get("xmlurl")
    if url is None and outline.get("type") == "link" and kind in ("sitemap", "html"):
        url = outline.get("url")
    if not url or kind not in ("feed", "sitemap", "html"):
        return None
    categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",")]
    tags = tuple(dict.fromkeys([*folders, *(c for c in categories if c)]))
    return OpmlSource(
        title=title,
        url=url.strip(),
        kind=kind,
        tags=tags,
        language=outline.get("language") or None,
        interval=outline.get(INTERVAL_ATTR) or None,
    )


def plan_import(opml: Opml, existing: Sequence[Source]) -> ImportPlan:
    """New source tables for the OPML's outlines; repeats (by canonical URL) skipped."""
    plan = ImportPlan()
    names = {s.name for s in existing}
    seen = {canonical_url(s.url): f"already configured as {s.name!r}" for s in existing}
    for src in opml.sources:
        parts = src.url.split("://", 1)
        if parts[0].lower() not in ("http", "https") or len(parts) < 2:
            plan.skipped.append((src, "not an http(s) URL"))
            continue
        key = canonical_url(src.url)
        if key in seen:
            plan.skipped.append((src, seen[key]))
            continue
        name = source_name(src.title, src.url, names)
        names.add(name)
        seen[key] = f"repeats {name!r} in this file"
        plan.tables.append(
            {
                "name": name,
                "url": src.url,
                "kind": src.kind,
                "interval": src.interval,
                "language": src.language,
                "tags": list(src.tags),
            }
        )
    return plan


def export_opml(sources: Iterable[Source], *, title: str, now: datetime | None = None) -> bytes:
    """An OPML 2.0 document of `sources`, one folder per first tag."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    created = format_datetime(now or datetime.now(UTC), usegmt=True)
    etree.SubElement(head, "dateCreated").text = created
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for s in sources:
        parent = body
        if s.tags:
            first = s.tags[0]
            if first not in folders:
                folders[first] = etree.SubElement(body, "outline", text=first, title=first)
            parent = folders[first]
        outline = etree.SubElement(parent, "outline", text=s.name, title=s.name)
        if s.kind == "feed":
            outline.set("type", "rss")
            outline.set("xmlUrl", s.url)
        else:
            outline.set("type", "link")
            outline.set("url", s.url)
            outline.set(KIND_ATTR, s.kind)
        if s.language:
            outline.set("language", s.language)
        if len(s.tags) > 1:
            outline.set("category", ",".join("/" + t for t in s.tags[1:]))
        outline.set(INTERVAL_ATTR, _duration(s.interval.total_seconds()))
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
