from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings

GOOD = """
[storage]
url = "sqlite:///data/monitor.db"
archive_dir = "data/archive"

[[sources]]
name = "mfa-kz"
url = "https://example.kz/rss"
kind = "feed"
interval = "15m"
language = "ru"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.storage.url == f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
    assert s.storage.archive_dir == tmp_path / "data" / "archive"
    assert s.sources[0].interval.total_seconds() == 900


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (
            ('interval = "15m"', 'interval = "15 minutes"'),
            "sources[0] (mfa-kz).interval",
            "duration",
        ),
        (('kind = "feed"', 'kind = "atom"'), "sources[0] (mfa-kz).kind", "feed"),
        (
            ('url = "https://example.kz/rss"', 'url = "example.kz/rss"'),
            "sources[0] (mfa-kz).url",
            "URL",
        ),
        (
            ('language = "ru"', 'language = "ru"\ncolour = "red"'),
            "sources[0] (mfa-kz).colour",
            "unknown key",
        ),
        (("[storage]", '[storage]\npath = "x"'), "storage.path", "unknown key"),
    ],
)
def test_bad_values_name_the_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, words: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert str(path) in str(e.value)
    assert key in str(e.value)
    assert words in str(e.value)


def test_duplicate_source_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + GOOD.split("[storage]")[0] + GOOD[GOOD.index("[[sources]]") :])
    with pytest.raises(ConfigError, match=r"sources\[1\] \(mfa-kz\)\.name: duplicate source name"):
        load_settings(path)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[[sources]\nname="))


def test_shipped_config_is_valid() -> None:
    s = load_settings(Path(__file__).resolve().parents[1] / "config" / "monitor.toml")
    names = {src.name for src in s.sources}
    assert len(names) >= 20
    # Every country's ministry and the OIC itself have a source.
    for name in ("mfa-kz", "mfa-kg", "mfa-uz", "mfa-tj", "mfa-tm", "mfa-az", "oic"):
        assert name in names
