from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webserver import LocalWeb

SEEDS_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "seeds"


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    server = LocalWeb().start()
    try:
        yield server
    finally:
        server.stop()
