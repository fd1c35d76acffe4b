"""The command line as a user runs it: exit codes, messages, import, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.fingerprint import content_hash
from tests.conftest import SEEDS_DIR


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "250"},
    )


def config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///monitor.db"\n{extra}', encoding="utf-8")
    return cfg


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[[sources]]\nname = "x"\nurl = "https://a.kz/rss"\ninterval = "soon"\n')
    result = cli("--config", str(cfg), "poll")
    assert result.returncode == 2
    assert "sources[0] (x).interval" in result.stderr
    assert str(cfg) in result.stderr.replace("\n", "")


def test_missing_config_exits_2(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "none.toml"), "items")
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_import_seeds_recomputes_their_hashes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    result = cli("--config", str(cfg), "import", str(SEEDS_DIR))
    assert result.returncode == 0, result.stderr
    rows = [
        json.loads(x)
        for x in cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    ]
    files = sorted(SEEDS_DIR.glob("*.txt"))
    assert len(rows) == len(files) == 5
    expected = {content_hash(f.read_text(encoding="utf-8")) for f in files}
    assert {r["content_hash"] for r in rows} == expected
    assert {r["language"] for r in rows} == {"ru", "kk", "fr"}
    assert all(r["alerted"] is False for r in rows)
    # A second import stores nothing new.
    cli("--config", str(cfg), "import", str(SEEDS_DIR))
    again = cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    assert len(again) == 5


def test_demo_stores_and_shows_articles(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stored 8 items" in result.stdout
    for word in ("demo-feed", "demo-sitemap", "demo-listing", "ru", "kk", "fr", "en"):
        assert word in result.stdout
