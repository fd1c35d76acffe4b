from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from monitor.store.repo import Store
from tests.alerts_support import Receiver, validate_posts
from tests.webserver import LocalWeb

SEEDS_DIR = Path(__file__).resolve().parent / "data" / "seeds"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    server = LocalWeb().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return crt, key


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server, dropped afterwards."""
    name = f"oic_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store (modules that need PostgreSQL define their own)."""
    s = Store.open("sqlite:///" + str(tmp_path / "t.db"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The alert tests' webhook receiver on 127.0.0.1; every JSON body it was sent must
    match the published schema of its kind."""
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()
    validate_posts(server.posts)
