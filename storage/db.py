"""Database engine for SQLite (embedded default, WAL) and PostgreSQL (production), and migrations."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, create_engine


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """An engine with the pragmas every SQLite connection needs; PostgreSQL is used as configured."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # FULL: a commit is on disk before we tell a sender "accepted" (SMTP 250, SMS delete).
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            # Writers take the lock up front (BEGIN IMMEDIATE), so they queue on the busy timeout
            # instead of failing with SQLITE_BUSY when a read transaction upgrades to a write.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        # pysqlite's own transaction handling would emit a plain BEGIN first.
        @event.listens_for(engine, "connect")
        def _sqlite_no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


_sqlite_writers: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()
_sqlite_writers_guard = threading.Lock()


def _writer_lock(engine: sa.Engine) -> threading.RLock:
    with _sqlite_writers_guard:
        lock = _sqlite_writers.get(engine)
        if lock is None:
            lock = _sqlite_writers[engine] = threading.RLock()
        return lock


@contextmanager
def session_scope(engine: sa.Engine, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    if write and engine.dialect.name == "sqlite":
        # SQLite has one writer; threads of this process queue on a lock that wakes the next one at
        # once, instead of on SQLite's busy handler, which sleeps up to 100 ms between polls.
        with _writer_lock(engine):
            yield from _transaction(engine.execution_options(sqlite_begin="IMMEDIATE"))
        return
    yield from _transaction(engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine)


def _transaction(bind: sa.Engine) -> Iterator[Session]:
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("storage") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (`sistem48 db upgrade`)."""
    from alembic import command

    make_engine(url).dispose()  # creates the SQLite directory
    command.upgrade(alembic_config(url), revision)
