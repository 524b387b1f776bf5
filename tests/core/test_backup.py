"""Backup while mail (smtplib) and SMS (Gammu dummy modem) keep arriving, restored into an empty data
directory and an empty database (SQLite and PostgreSQL): every acknowledged contact is there and the
restored gateway starts and answers /healthz."""

from __future__ import annotations

import asyncio
import email.policy
import io
import json
import os
import smtplib
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.app import build_gateway, create_app
from gateway.backup import BackupError, create_backup, redact, restore_backup, verify_backup
from gateway.progress import Progress
from sms.simulator import inbox_files, inject_incoming
from storage.db import session_scope
from storage.models import DataRemoval, Message
from tests.conftest import PG_ADMIN_URL, make_config

ADDRESS = "sistem48@sistem48.localhost"


def _quiet(label: str, total: int, unit: str) -> Progress:
    return Progress(label, total, unit=unit, stream=io.StringIO())


def _mail(token: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"gradjanin-{token}@example.org"
    msg["To"] = ADDRESS
    msg["Subject"] = "Prijava kvara"
    msg["Message-ID"] = f"<{token}@example.org>"
    msg.set_content(f"Rupa na kolovozu, oznaka {token}.")
    # Big enough that the raw mail and the photo become blobs, so the blob store is part of it.
    msg.add_attachment(os.urandom(80 * 1024), maintype="image", subtype="jpeg", filename="rupa.jpg")
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF: smtplib sends bytes as they are


class Load:
    """Citizens writing in the background: one mail and one SMS per round until stopped."""

    def __init__(self, smtp_port: int, modem: Path) -> None:
        self.smtp_port = smtp_port
        self.modem = modem
        self.acked_mail: list[str] = []  # Message-IDs the gateway answered 250 to
        self.sms_sent: list[str] = []
        self._stop = threading.Event()
        self._sms_on = threading.Event()
        self._sms_on.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._n = 0

    async def __aenter__(self) -> Load:
        self._thread.start()
        return self

    async def __aexit__(self, *_: Any) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 30)  # the SMTP server runs on this loop

    def _run(self) -> None:
        while not self._stop.is_set():
            self._n += 1
            token = f"m{self._n}x{uuid.uuid4().hex[:6]}"
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as client:
                client.sendmail(f"gradjanin-{token}@example.org", [ADDRESS], _mail(token))
            self.acked_mail.append(token)
            if self._sms_on.is_set():
                sms_token = f"s{self._n}x{uuid.uuid4().hex[:6]}"
                inject_incoming(self.modem, f"+38164{self._n:07d}", f"Ne radi svetlo, oznaka {sms_token}")
                self.sms_sent.append(sms_token)
            time.sleep(0.05)

    def wait_for_mail(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acked_mail) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def acknowledged_sms(self, timeout_s: float = 30.0) -> list[str]:
        """The SMS injected so far, once the modem's inbox is empty (each one deleted = acknowledged);
        SMS stop arriving while we wait, mail does not."""
        self._sms_on.clear()
        time.sleep(0.2)
        sent = list(self.sms_sent)
        deadline = time.monotonic() + timeout_s
        while inbox_files(self.modem):
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not take the SMS off the modem")
            time.sleep(0.05)
        self._sms_on.set()
        return sent


@pytest.fixture
def empty_target(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Iterator[str]:
    """An empty database of the same kind as the source, on a 'new machine' (another directory)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'new-machine' / 'var' / 'sistem48.db'}"
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sistem48_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _live_config(tmp_path: Path, db_url: str) -> Any:
    cfg = make_config(tmp_path, db_url)
    cfg.mail.enabled = True
    cfg.mail.listen_port = 0
    cfg.sms.enabled = True
    cfg.sms.poll_interval_s = 0.1
    return cfg


def _swept(gw: Any) -> bool:
    with session_scope(gw.engine) as s:
        return s.exec(select(DataRemoval).where(DataRemoval.action == "retention")).first() is not None


def _inbound(url: str) -> tuple[set[str], set[str]]:
    """Message-IDs of mail and the bodies of SMS stored in the database at `url`."""
    from storage.db import make_engine

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            rows = s.exec(select(Message).where(Message.direction == "in")).all()
    finally:
        engine.dispose()
    mail = {r.external_id.strip("<>").split("@")[0] for r in rows if r.channel == "email"}
    sms = {r.body.rsplit(" ", 1)[-1] for r in rows if r.channel == "sms"}
    return mail, sms


def _blobs_missing(cfg: Any) -> list[str]:
    """Photos and raw mails the restored rows name but the restored blob store lacks."""
    from storage.blobs import BlobStore
    from storage.db import make_engine
    from storage.models import AttachmentRow

    store = BlobStore(cfg.gateway.data_dir / "blobs")
    engine = make_engine(cfg.database_url())
    try:
        with session_scope(engine) as s:
            named = [a.sha256 for a in s.exec(select(AttachmentRow)).all()]
            messages = s.exec(select(Message)).all()
            named += [m.raw_sha256 for m in messages if m.raw_sha256 and not m.raw_inline]
    finally:
        engine.dispose()
    assert named, "the restored rows name no blob at all"
    return [sha for sha in named if not store.exists(sha)]


def test_backup_under_load_restores_every_acknowledged_contact_and_the_gateway_starts(
    tmp_path: Path, db_url: str, empty_target: str
) -> None:
    live = _live_config(tmp_path / "live", db_url)
    config_file = tmp_path / "config.toml"
    config_file.write_text('[database]\nurl = "postgresql+psycopg://sistem48:hunter2@db.local/sistem48"\n')
    backup_dir = tmp_path / "backup-1"

    async def under_load() -> tuple[list[str], list[str], dict[str, Any]]:
        gw = build_gateway(live, roles={"mail", "sms"})
        await gw.start()
        try:
            port = next(ch for ch in gw.channels if ch.name == "mail").port
            async with Load(port, Path(gw.config.sms.device)) as load:
                await asyncio.to_thread(load.wait_for_mail, 5)
                acked_sms = await asyncio.to_thread(load.acknowledged_sms)
                acked_mail = list(load.acked_mail)

                def between_database_and_blobs(label: str, total: int, unit: str) -> Progress:
                    # Mail keeps arriving after the database snapshot and before the blob copy: the
                    # window in which rows the snapshot lacks write blobs the copy may or may not see.
                    if label == "backup: blobs":
                        load.wait_for_mail(len(load.acked_mail) + 2)
                    return _quiet(label, total, unit)

                manifest = await asyncio.to_thread(
                    create_backup,
                    live,
                    backup_dir,
                    config_file=config_file,
                    progress=between_database_and_blobs,
                )
                during = len(load.acked_mail) - len(acked_mail)
            assert during >= 2
            return acked_mail, acked_sms, manifest
        finally:
            await gw.stop()

    acked_mail, acked_sms, manifest = asyncio.run(under_load())
    assert manifest["alembic_revision"] and manifest["counts"]["ticket"] >= len(acked_sms)
    # Mail still in the spool has its raw bytes in the row; parsed mail has its photo as a blob.
    assert any(name.startswith("blobs/") for name in manifest["files"])
    assert "hunter2" not in (backup_dir / "config.toml").read_text()
    assert "SISTEM48_SECRET" in manifest["secrets_not_included"]

    new_machine = make_config(tmp_path / "new-machine", empty_target)
    new_machine.mail.enabled = True
    new_machine.mail.listen_port = 0
    restore_backup(new_machine, backup_dir, progress=_quiet)

    # With the sla role the restored gateway also runs its first retention sweep, blob store included:
    # nothing of the restore is past its period, so every acknowledged contact must still be there.
    gw = build_gateway(new_machine, roles={"mail", "sla"})
    with TestClient(create_app(new_machine, gateway=gw)) as client:
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 30
        while True:  # mail acknowledged but not parsed yet is in the spool: the restored gateway parses it
            mail, sms = _inbound(new_machine.database_url())
            if (set(acked_mail) <= mail and _swept(gw)) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert _swept(gw)
    assert set(acked_mail) <= mail, f"lost mail: {set(acked_mail) - mail}"
    assert _blobs_missing(new_machine) == []
    assert set(acked_sms) <= sms, f"lost SMS: {set(acked_sms) - sms}"
    assert len(acked_mail) >= 5 and len(acked_sms) >= 1


def test_restore_refuses_a_target_that_holds_data_unless_told_to_overwrite(
    tmp_path: Path, db_url: str, empty_target: str
) -> None:
    from gateway.inbox import GatewayInbox  # noqa: F401 - the gateway's own ingest writes the rows
    from tests.core.helpers import sms

    live = make_config(tmp_path / "live", db_url)
    gw = build_gateway(live, roles=set())
    gw.inbox.ingest_sync(sms(gw, "+381641111111", "Prva prijava"))
    gw.engine.dispose()
    create_backup(live, tmp_path / "b1", progress=_quiet)

    target = make_config(tmp_path / "new-machine", empty_target)
    restore_backup(target, tmp_path / "b1", progress=_quiet)
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(target, tmp_path / "b1", progress=_quiet)
    restore_backup(target, tmp_path / "b1", overwrite=True, progress=_quiet)
    assert _inbound(target.database_url())[1] == {"prijava"}


def test_a_damaged_backup_is_refused_before_anything_is_written(tmp_path: Path, db_url: str) -> None:
    from tests.core.helpers import mail

    live = make_config(tmp_path / "live", db_url)
    gw = build_gateway(live, roles=set())
    gw.inbox.ingest_sync(mail(gw, "ana@example.org", "Foto", raw=b"x" * 70_000))
    gw.engine.dispose()
    manifest = create_backup(live, tmp_path / "b1", progress=_quiet)
    blob = next(name for name in manifest["files"] if name.startswith("blobs/"))
    (tmp_path / "b1" / blob).write_bytes(b"bit rot")
    with pytest.raises(BackupError, match="checksum"):
        verify_backup(tmp_path / "b1", progress=_quiet)
    (tmp_path / "b1" / "manifest.json").unlink()
    with pytest.raises(BackupError, match="not a backup"):
        verify_backup(tmp_path / "b1", progress=_quiet)
    assert json.loads(json.dumps(manifest))["format"] == 1


def test_backup_into_a_directory_that_holds_files_is_refused(tmp_path: Path, db_url: str) -> None:
    live = make_config(tmp_path / "live", db_url)
    build_gateway(live, roles=set()).engine.dispose()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text("{}")
    with pytest.raises(BackupError, match="not empty"):
        create_backup(live, tmp_path / "old", progress=_quiet)


def test_redact_hides_a_password_written_into_a_database_url() -> None:
    text = 'url = "postgresql+psycopg://sistem48:s3cr%40t@db.grad.rs/sistem48"\nsecret_env = "X"\n'
    assert redact(text) == text.replace("s3cr%40t", "REDACTED")
    assert redact('url = "sqlite:///var/sistem48.db"') == 'url = "sqlite:///var/sistem48.db"'


def test_progress_writes_plain_lines_for_the_journal_and_a_bar_on_a_terminal() -> None:
    journal = io.StringIO()
    step = Progress("backup: blobs", 20, unit="files", stream=journal, tty=False)
    for _ in range(20):
        step.advance()
    step.done()
    lines = journal.getvalue().splitlines()
    assert lines[0] == "backup: blobs: started (20 files)"
    assert lines[-1] == "backup: blobs: done, 20 files"
    assert len(lines) == 12 and "\r" not in journal.getvalue()  # start, every tenth, done
    terminal = io.StringIO()
    bar = Progress("restore", 4, stream=terminal, tty=True)
    bar.advance(2)
    assert terminal.getvalue().endswith("] 2 (50 %)") and "#" * 15 in terminal.getvalue()


def test_cli_backup_and_restore_report_progress_lines_and_refuse_to_overwrite(
    tmp_path: Path, db_url: str
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    if not db_url.startswith("sqlite"):
        return  # the command line is the same for both; the PostgreSQL paths are covered above
    config = tmp_path / "config.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "var"}"\n[database]\nurl = "{db_url}"\n')
    runner = CliRunner()
    done = runner.invoke(app, ["backup", str(tmp_path / "b1"), "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "backup: database: done" in done.output and "backup: blobs: started (0 files)" in done.output
    assert "backup in" in done.output and (tmp_path / "b1" / "config.toml").exists()
    refused = runner.invoke(app, ["restore", str(tmp_path / "b1"), "--config", str(config)])
    assert refused.exit_code == 1 and "add --overwrite" in refused.output
    done = runner.invoke(app, ["restore", str(tmp_path / "b1"), "--overwrite", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "set these in the environment file: SISTEM48_SECRET" in done.output
