"""Shared fixtures: a real database (SQLite file and PostgreSQL server), a settable clock, a gateway."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

PG_ADMIN_URL = os.environ.get("SISTEM48_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b for b in os.environ.get("SISTEM48_TEST_DATABASES", "sqlite,postgresql").split(",") if b]


class Clock:
    """A settable clock for code that decides by time (business hours, SLA, quiet hours)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    # A Tuesday, 10:00 in Belgrade: inside business hours.
    return Clock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from storage.db import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway database on the real server, migrated once; dropped at the end."""
    from storage.db import upgrade

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sistem48_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc.orig}); "
            "scripts/test.sh starts it, or set SISTEM48_TEST_DATABASES=sqlite"
        )
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "sistem48.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    engine = sa.create_engine(url)
    import storage.models  # noqa: F401

    # DELETE is much cheaper than TRUNCATE on the handful of rows a test leaves behind.
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


def make_config(tmp_path: Path, db_url: str, **overrides: Any) -> Any:
    """The embedded defaults with every channel off, a temp data dir and the given database."""
    from gateway.config import load_config

    base = load_config(None)
    data: dict[str, Any] = base.model_dump(mode="json")
    data["gateway"]["data_dir"] = str(tmp_path / "var")
    data["database"]["url"] = db_url
    for section in ("mail", "sms", "sip"):
        data[section]["enabled"] = False
    data["mail"]["relay"]["directory"] = str(tmp_path / "var" / "mail-out")
    data["sms"]["device"] = str(tmp_path / "var" / "modem")
    data["sip"]["state_dir"] = str(tmp_path / "var" / "sip")
    data["transcription"]["enabled"] = False
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    from gateway.config import parse_config

    return parse_config(data, "<test>")


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Any:
    return make_config(tmp_path, db_url)


@pytest.fixture
def gateway(config: Any, clock: Clock) -> Iterator[Any]:
    from gateway.app import build_gateway

    gw = build_gateway(config, clock=clock, roles=set())
    yield gw
    gw.engine.dispose()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem (tmpfs): ENOSPC comes from the kernel, not from a mock."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the CI machine runs the tests as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(mount)], check=True, capture_output=True)
