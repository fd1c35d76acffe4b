"""Run the real pipeline against the demo site into a temporary SQLite database."""

from __future__ import annotations

import tempfile
from pathlib import Path

from monitor.config import Settings, settings_from_dict
from monitor.demo.site import DemoSite
from monitor.pipeline import PollReport
from monitor.runtime import Runtime
from monitor.store.models import Item


def demo_settings(base: str, folder: Path) -> Settings:
    raw = {
        "storage": {"url": "sqlite:///demo.db", "archive_dir": "archive"},
        "fetch": {"per_host_delay": "0.01s", "backoff": "0.1s", "retries": 1},
        "alert_window": "3650d",
        "sources": [
            {"name": "demo-feed", "url": f"{base}/rss.xml", "kind": "feed"},
            {"name": "demo-sitemap", "url": f"{base}/sitemap.xml", "kind": "sitemap"},
            {"name": "demo-listing", "url": f"{base}/news/", "kind": "html"},
        ],
    }
    return settings_from_dict(raw, folder / "demo.toml")


async def run_demo(folder: Path | None = None) -> tuple[list[PollReport], list[Item], Path]:
    """Poll the three demo sources once; return the reports, stored items and data folder."""
    folder = folder or Path(tempfile.mkdtemp(prefix="oic-monitor-demo-"))
    site = DemoSite().start()
    try:
        settings = demo_settings(site.base, folder)
        async with Runtime(settings) as rt:
            reports = [await rt.pipeline.poll(s) for s in settings.sources]
            items = rt.store.items()
    finally:
        site.stop()
    return reports, items, folder
