"""OPML import and export: a feed reader's subscription list in, the sources out and back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import Source, load_settings
from monitor.sources import SourceError
from monitor.sources.opml import export_opml, parse_opml, plan_import
from tests.daemon_support import cli

FEEDLY = Path(__file__).resolve().parent / "data" / "opml" / "feedly.opml"

CONFIG = """\
# Sources of the monitoring desk.
[storage]
url = "sqlite:///monitor.db"

[[sources]]
name = "akorda"  # the President's office
url = "https://www.akorda.kz/ru/rss"
"""


def test_feed_reader_export_parses_with_folders_as_tags() -> None:
    opml = parse_opml(FEEDLY.read_bytes())

    assert opml.title == "Analyst subscriptions in feedly Cloud"
    by_title = {s.title: s for s in opml.sources}
    assert len(opml.sources) == 7
    assert by_title["Kazinform — Новости"].tags == ("Central Asia",)
    assert by_title["MFA Uzbekistan"].tags == ("Central Asia", "Ministries")
    assert by_title["MFA Uzbekistan"].url == "https://mfa.uz/en/press/news/rss"  # not htmlUrl
    assert by_title["Trend News Agency"].tags == ()


def test_import_skips_and_reports_duplicates_by_canonical_url() -> None:
    existing = [Source(name="akorda", url="https://www.akorda.kz/ru/rss")]

    plan = plan_import(parse_opml(FEEDLY.read_bytes()), existing)

    assert [t["name"] for t in plan.tables] == [
        "kazinform",
        "24.kg",
        "mfa-uzbekistan",
        "oic-news",
        "trend-news-agency",
    ]
    assert plan.tables[2]["tags"] == ["Central Asia", "Ministries"]
    assert [(s.title, why) for s, why in plan.skipped] == [
        ("Kazinform (again)", "repeats 'kazinform' in this file"),
        ("Akorda", "already configured as 'akorda'"),
    ]


def test_export_then_import_round_trips() -> None:
    sources = [
        Source(name="kazinform", url="https://www.inform.kz/rss/rus.xml", tags=["central-asia"]),
        Source(
            name="mfa-uz",
            url="https://mfa.uz/en/press/news/rss",
            tags=["central-asia", "ministries"],
            language="en",
            interval=timedelta(hours=2),
        ),
        Source(name="oic", url="https://www.oic-oci.org/sitemap.xml", kind="sitemap"),
        Source(name="akorda-news", url="https://www.akorda.kz/ru/news", kind="html", tags=["kz"]),
    ]

    data = export_opml(sources, title="oic-monitor sources")
    plan = plan_import(parse_opml(data), [])
    back = [Source(**{k: v for k, v in t.items() if v is not None}) for t in plan.tables]

    assert back == sources
    assert b'<opml version="2.0">' in data and b"<dateCreated>" in data
    assert b'<outline text="central-asia" title="central-asia">' in data
    assert b'type="rss" xmlUrl="https://www.inform.kz/rss/rus.xml"' in data


def test_entity_declarations_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>'
        b'<outline text="&b;" xmlUrl="https://a.example/rss"/></body></opml>'
    )
    with pytest.raises(SourceError) as e:
        parse_opml(bomb)
    assert e.value.reason == "xml_entities"


def test_not_opml_is_refused() -> None:
    with pytest.raises(SourceError, match="not an OPML document"):
        parse_opml(b"<rss><channel/></rss>")


def test_cli_import_then_export(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    exported = tmp_path / "out.opml"

    imported = cli(cfg, "sources", "import", str(FEEDLY))
    export = cli(cfg, "sources", "export", "--format", "opml", "--out", str(exported))

    assert imported.returncode == 0, imported.stderr
    assert "added 5 sources, skipped 2" in imported.stdout
    assert "already configured as 'akorda'" in imported.stdout
    text = cfg.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)
    names = [s.name for s in load_settings(cfg).sources]
    assert names == ["akorda", "kazinform", "24.kg", "mfa-uzbekistan", "oic-news",
                     "trend-news-agency"]  # fmt: skip
    assert export.returncode == 0, export.stderr
    again = plan_import(parse_opml(exported.read_bytes()), load_settings(cfg).sources)
    assert again.tables == [] and len(again.skipped) == 6
