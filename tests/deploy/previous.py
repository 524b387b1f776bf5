"""The previous release's data (previous_release/README.md) and what an upgrade must leave of it:
a backup taken before the migrations, every row and the photo, the schema at this release's head."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from storage.db import alembic_config

FIXTURE = Path(__file__).resolve().parent / "previous_release"
REVISION = "0002"
PHOTO_SHA256 = "f36bfc32231b3c6b046f303e9c1f88419bc441cf796768803323af87cc6cda99"
ROWS = (
    [("S48-2026-000001", "email"), ("S48-2026-000002", "sms")],
    3,
    [("rupa.jpg", PHOTO_SHA256)],
)


def rows(db_url: str) -> tuple[list[tuple[str, str]], int, list[tuple[str, str]]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        tickets = [
            (str(r), str(c))
            for r, c in conn.exec_driver_sql("SELECT reference, channel FROM ticket ORDER BY reference")
        ]
        messages = int(conn.exec_driver_sql("SELECT count(*) FROM message").scalar_one())
        attachments = [
            (str(f), str(h)) for f, h in conn.exec_driver_sql("SELECT filename, sha256 FROM attachment")
        ]
    engine.dispose()
    return tickets, messages, attachments


def revision(db_url: str) -> str:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        found = str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())
    engine.dispose()
    return found


def assert_upgraded_after_a_backup(root: Path, db_url: str, dump: str) -> None:
    """`root` is / of the installed system; `dump` the database file's name in the backup."""
    backups = sorted((root / "var/backups/sistem48").glob("pre-upgrade-*"))
    assert len(backups) == 1
    manifest = json.loads((backups[0] / "manifest.json").read_text())
    assert manifest["alembic_revision"] == REVISION  # taken before the migrations ran
    assert (backups[0] / dump).stat().st_size > 0
    assert list(backups[0].rglob(PHOTO_SHA256))
    assert revision(db_url) == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert rows(db_url) == ROWS  # the data came through the upgrade
    photo = root / "var/lib/sistem48/blobs" / PHOTO_SHA256[:2] / PHOTO_SHA256[2:4] / PHOTO_SHA256
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == PHOTO_SHA256
