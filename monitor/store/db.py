"""Engine creation and schema migrations (Alembic, applied on start)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from monitor.config import DATABASE_ENV
from monitor.errors import DatabaseError
from monitor.redact import redact

if TYPE_CHECKING:
    from alembic.config import Config

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


def newest_revision() -> str:
    """The last migration's revision. They are numbered in one line ("0001", "0002", ...),
    each file named after its revision, so the largest name is the head."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def _at_newest(engine: Engine) -> bool:
    """Whether the database's schema is already at the newest revision."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows == [newest_revision()]


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call on every start.

    Alembic is imported only when there is something to migrate: it costs about 10 MB and
    90 ms, which every command and daemon opening an up-to-date database would pay."""
    try:
        if _at_newest(engine):
            return
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    except Exception as e:  # noqa: BLE001 - any driver error means the same to the user
        safe = redact(engine.url.render_as_string(hide_password=False))
        reason = db_reason(e) if isinstance(e, DBAPIError) else " ".join(str(e).split())
        raise DatabaseError(f"cannot open or migrate the database {safe}: {redact(reason)}") from e
