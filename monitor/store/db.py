"""Engine creation and schema migrations (Alembic, applied on start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from monitor.config import DATABASE_ENV
from monitor.errors import DatabaseError
from monitor.redact import redact

MIGRATIONS = Path(__file__).with_name("migrations")


# The database is down or unreachable (not a bug, not a constraint): retried later.
DB_UNAVAILABLE = (OperationalError, InterfaceError)


def db_reason(e: DBAPIError) -> str:
    """The driver's one-line reason, without the SQL statement SQLAlchemy appends."""
    return " ".join(str(e.orig or e).split())[:300]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (items, serve) work while the daemon writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        # Not echoed: a URL that cannot be parsed cannot be trusted to have its password found.
        raise DatabaseError(f"bad database URL ([storage] url or ${DATABASE_ENV}): {e}") from None
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DatabaseError(
                f"cannot create the folder of {parsed.database}: {e.strerror}"
            ) from None
    try:
        if not sqlite:
            return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    except (ArgumentError, ImportError) as e:  # an unknown database, or its driver missing
        raise DatabaseError(
            f"unusable database URL ([storage] url or ${DATABASE_ENV}): {e}"
        ) from None
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call on every start."""
    try:
        command.upgrade(alembic_config(engine), "head")
    except Exception as e:  # noqa: BLE001 - any driver error means the same to the user
        safe = redact(engine.url.render_as_string(hide_password=False))
        reason = db_reason(e) if isinstance(e, DBAPIError) else " ".join(str(e).split())
        raise DatabaseError(f"cannot open or migrate the database {safe}: {redact(reason)}") from e
