"""A citizen's erasure request: after it, no row of a full database dump, no blob file and no log line
holds the number in any spelling, while the ticket stays (anonymised) and other citizens are untouched."""

from __future__ import annotations

import io
import logging
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from channels.base import Attachment, CallOutcome, CallRecord
from gateway.erasure import ConfirmationMismatch, NotFound, erase_person, export, export_html, find_subject
from storage.db import session_scope
from storage.models import AttachmentRow, DataRemoval, PiiAccess, Ticket, TranscriptRow
from tests.core.helpers import mail, sms, voicemail

SPELLINGS = ["+381641234567", "0641234567", "381641234567", "064 1234567", "064/123-4567"]
OTHER = "+381651112223"


def dump(url: str) -> bytes:
    """Every row of the database as text: SQLite's iterdump, or pg_dump of the server database."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return "\n".join(conn.iterdump()).encode()
        finally:
            conn.close()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["pg_dump", "--data-only", plain], check=True, capture_output=True).stdout


def holders(data: bytes, needles: list[str]) -> list[str]:
    """Which spellings occur in the bytes, as text or as the hex SQLite dumps binary columns in."""
    lower = data.lower()
    return [n for n in needles if n.encode() in data or n.encode().hex().encode() in lower]


def blob_files(root: Path) -> bytes:
    out = io.BytesIO()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out.write(path.read_bytes())
    return out.getvalue()


def seed(gw: Any, wav: bytes) -> str:
    """An SMS with a photo, a voicemail with a transcript and a missed call from one number; one SMS
    from somebody else. Returns the SMS ticket's reference."""
    photo = Attachment("slika-0641234567.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 JFIF photo by 0641234567")
    first = gw.inbox.ingest_sync(
        sms(
            gw, "064 1234567", "Rupa na putu kod škole. Zovite me na 064/123-4567, Pera", attachments=(photo,)
        )
    )
    vm = gw.inbox.ingest_sync(voicemail(gw, "0641234567", wav))
    gw.inbox.ingest_sync(sms(gw, OTHER, "Ne radi svetlo u ulici Njegoševa"))
    gw.inbox.record_call_sync(
        CallRecord(
            "missed@pbx", "0641234567", "48", gw.clock(), 1.0, CallOutcome.MISSED, True, "from 0641234567"
        )
    )
    with session_scope(gw.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == vm.reference)).one()
        audio = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id)).one()
        assert ticket.id is not None and audio.id is not None
        s.add(
            TranscriptRow(
                ticket_id=ticket.id,
                attachment_id=audio.id,
                engine="vosk",
                text="javlja se 0641234567 za rasvetu",
                has_speech=True,
                low_confidence=False,
                data={"words": [{"word": "0641234567"}]},
            )
        )
    assert first.reference is not None
    return first.reference


def test_erasing_a_number_leaves_it_in_no_row_blob_or_log_line_in_any_spelling(
    gateway: Any, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reference = seed(gateway, b"RIFF....WAVEfmt voice of 0641234567")
    blobs_root = gateway.blobs.root
    before = dump(db_url)
    assert holders(before, SPELLINGS[:1])  # the test finds the number where it is
    assert holders(blob_files(blobs_root), ["0641234567"])

    counts = erase_person(
        gateway.engine, gateway.blobs, "+381 64 123 4567", "0641234567", "admin", gateway.clock(), "RS"
    )

    assert counts["identities"] == 1 and counts["tickets"] == 2 and counts["files"] == 2
    after = dump(db_url)
    assert holders(after, SPELLINGS) == []
    assert holders(blob_files(blobs_root), SPELLINGS) == []
    assert not [r.getMessage() for r in caplog.records if holders(r.getMessage().encode(), SPELLINGS)]
    assert OTHER.encode() in after  # somebody else's data stays
    with session_scope(gateway.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        assert "Rupa na putu kod škole" in ticket.description and ticket.status == "received"
        assert ticket.citizen_id is not None  # the statistics still count one reporter
        assert [r.counts["tickets"] for r in s.exec(select(DataRemoval)).all()] == [2]
        assert s.exec(select(PiiAccess).where(PiiAccess.what == "erasure")).one().actor == "admin"
        with pytest.raises(NotFound):
            find_subject(s, "0641234567", "RS")


def test_erasure_needs_the_same_number_typed_again(gateway: Any) -> None:
    gateway.inbox.ingest_sync(sms(gateway, "0641234567", "Rupa na putu"))
    with pytest.raises(ConfirmationMismatch):
        erase_person(
            gateway.engine, gateway.blobs, "0641234567", "0641234568", "admin", gateway.clock(), "RS"
        )
    with pytest.raises(ConfirmationMismatch):
        erase_person(gateway.engine, gateway.blobs, "0641234567", "", "admin", gateway.clock(), "RS")
    with session_scope(gateway.engine) as s:
        assert find_subject(s, "+381641234567", "RS").identities == [("phone", "+381641234567")]


def test_export_holds_every_message_of_the_number_and_is_audit_logged(gateway: Any) -> None:
    seed(gateway, b"RIFF....WAVE")
    with session_scope(gateway.engine, write=True) as s:
        data = export(s, find_subject(s, "381641234567", "RS"), "admin", "export (cli)")
    assert data["citizen"]["identities"] == [{"kind": "phone", "value": "+381641234567"}]
    assert len(data["tickets"]) == 2 and len(data["calls"]) == 1 and len(data["transcripts"]) == 1
    assert any("Zovite me" in m["body"] for m in data["messages"])
    assert all("Njegoševa" not in m["body"] for m in data["messages"])  # somebody else's
    assert "Rupa na putu kod škole" in export_html(data) and "<script" not in export_html(data)
    with session_scope(gateway.engine) as s:
        assert s.exec(select(PiiAccess)).one().what == "export (cli)"


def test_cli_exports_then_erases_only_after_the_number_is_typed_again(gateway: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    seed(gateway, b"RIFF....WAVE")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[gateway]\ndata_dir = "{gateway.config.gateway.data_dir}"\n'
        f'[database]\nurl = "{gateway.config.database.url}"\n'
        "[mail]\nenabled = false\n[sms]\nenabled = false\n[sip]\nenabled = false\n"
    )
    runner = CliRunner()
    out = tmp_path / "request"
    done = runner.invoke(app, ["citizen", "export", "064 1234567", "--out", str(out), "-c", str(cfg)])
    assert done.exit_code == 0, done.output
    (exported,) = out.glob("citizen-*.json")
    assert "Zovite me" in exported.read_text(encoding="utf-8") and exported.with_suffix(".html").exists()
    assert "0641234567" not in done.output  # the console line names files and counts only

    refused = runner.invoke(app, ["citizen", "erase", "0641234567", "-c", str(cfg)], input="0641234560\n")
    assert refused.exit_code == 1 and "nothing erased" in refused.output
    erased = runner.invoke(app, ["citizen", "erase", "0641234567", "-c", str(cfg)], input="+381641234567\n")
    assert erased.exit_code == 0, erased.output
    assert "identities=1" in erased.output
    with session_scope(gateway.engine) as s:
        with pytest.raises(NotFound):
            find_subject(s, "0641234567", "RS")
        assert {p.what for p in s.exec(select(PiiAccess)).all()} == {
            "export (sistem48 citizen export)",
            "erasure",
        }


def test_erasing_an_email_address_leaves_neither_it_nor_the_name_in_any_row_or_blob(
    gateway: Any, db_url: str
) -> None:
    raw = (
        b"From: Pera Peric <Pera.Peric@Example.rs>\r\nMessage-ID: <x1@example.rs>\r\n\r\n"
        + b"Pozdrav, Pera Peric, pera.peric@example.rs\r\n" * 2000  # above INLINE_RAW_MAX: a blob
    )
    contact = mail(
        gateway,
        "Pera.Peric@Example.rs",
        "Ne radi svetlo. Pozdrav, Pera Peric, pera.peric@example.rs",
        subject="Svetlo - Pera Peric",
        raw=raw,
        sender_name="Pera Peric",
    )
    reference = gateway.inbox.ingest_sync(contact).reference
    needles = ["pera.peric@example.rs", "Pera Peric", "Peric"]
    assert holders(dump(db_url), needles[:1]) and holders(blob_files(gateway.blobs.root), needles[:1])

    erase_person(
        gateway.engine,
        gateway.blobs,
        "PERA.PERIC@example.rs",
        "pera.peric@example.rs",
        "admin",
        gateway.clock(),
        "RS",
    )

    assert holders(dump(db_url).lower(), [n.lower() for n in needles]) == []
    assert holders(blob_files(gateway.blobs.root).lower(), [n.lower() for n in needles]) == []
    with session_scope(gateway.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        assert "Ne radi svetlo" in ticket.description

