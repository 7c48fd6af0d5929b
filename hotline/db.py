"""The database connection: one engine per process, short transactions."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def make_engine(url: str, pre_ping: bool = True) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so web and worker can share it.

    `pre_ping` tests every pooled PostgreSQL connection before use (one round trip each time).
    The web process turns it off: its webhooks run a step again on a connection found dead
    (`retry_on_disconnect`), and SQLAlchemy then drops every older pooled connection at once.

    Errors never carry a statement's parameters (`hide_parameters`): a logged traceback (a worker's
    failed job, say) would otherwise show what a reporter wrote."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if url.startswith("postgres://"):  # Heroku-style URLs
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=pre_ping, hide_parameters=True)


def retry_on_disconnect(fn: Callable[[], T], attempts: int = 2) -> T:
    """Run `fn` (a whole transaction), once more if the database connection turned out to be dead
    (the database restarted): the first failure empties the pool, so the second try connects afresh."""
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(url: str) -> None:
    """Bring the schema at `url` up to date with Alembic (safe to run again)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
