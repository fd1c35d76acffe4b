"""The files the package needs beside its code (templates, scripts, styles, schemas, data)
go into an installed copy too, as `pip install .` (and the Docker image) makes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "monitor"


def _shipped() -> set[Path]:
    """What the package-data patterns of pyproject.toml take from the package's folder."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["monitor"]
    return {p for pattern in patterns for p in PACKAGE.glob(pattern) if p.is_file()}


def test_every_data_file_of_the_package_is_installed() -> None:
    data = {
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data, "no data files found"
    missing = sorted(str(p.relative_to(ROOT)) for p in data - _shipped())
    assert not missing, f"not installed by pip install .: {missing}"


def test_the_dashboard_script_is_installed() -> None:
    assert PACKAGE / "web" / "static" / "keys.js" in _shipped()
