"""A throwaway database (SQLite file or a fresh PostgreSQL database) and a gateway config for the
benchmarks, so that no benchmark imports test modules."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage.db import upgrade

PG_ADMIN_URL = os.environ.get("SISTEM48_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def bench_database(kind: str, tmp: Path) -> Iterator[str]:
    """A migrated, empty database of `kind` (sqlite | postgresql); PostgreSQL's is dropped after."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        yield url
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sistem48_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def analyze(engine: Any) -> None:
    """PostgreSQL: planner statistics after the bulk load, as autovacuum leaves them within a minute
    (SQLite gets none: the pages must be fast without sqlite_stat1)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def bench_config(tmp: Path, db_url: str) -> Any:
    """The embedded defaults with every channel off, a temp data dir and the given database."""
    from gateway.config import load_config, parse_config

    data: dict[str, Any] = load_config(None).model_dump(mode="json")
    data["gateway"]["data_dir"] = str(tmp / "var")
    data["database"]["url"] = db_url
    for section in ("mail", "sms", "sip"):
        data[section]["enabled"] = False
    data["mail"]["relay"]["directory"] = str(tmp / "var" / "mail-out")
    data["sms"]["device"] = str(tmp / "var" / "modem")
    data["sip"]["state_dir"] = str(tmp / "var" / "sip")
    data["transcription"]["enabled"] = False
    return parse_config(data, "<benchmark>")
