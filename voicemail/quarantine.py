"""Recordings the core could not take, kept on disk (WAV + JSON sidecar, written durably) until a
later ingest succeeds; a recording is deleted only after it was ingested.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime
from pathlib import Path

from channels.base import Attachment, ChannelKind, InboundContact


class Quarantine:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, contact: InboundContact) -> Path:
        """Write the contact's recording and fields; returns the sidecar's path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = _safe(contact.external_id)
        attachment = contact.attachments[0]
        sidecar = {
            "channel": str(contact.channel),
            "external_id": contact.external_id,
            "sender": contact.sender,
            "received_at": contact.received_at.isoformat(),
            "subject": contact.subject,
            "body": contact.body,
            "meta": dict(contact.meta),
            "attachment": {"filename": attachment.filename, "content_type": "audio/wav"},
        }
        write_durably(self.folder / f"{stem}.wav", attachment.data)
        write_durably(self.folder / f"{stem}.json", json.dumps(sidecar, indent=1).encode())
        return self.folder / f"{stem}.json"

    def entries(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json"))


def load_entry(sidecar: Path) -> InboundContact:
    fields = json.loads(sidecar.read_text())
    wav = sidecar.with_suffix(".wav").read_bytes()
    attachment = fields["attachment"]
    return InboundContact(
        channel=ChannelKind(fields["channel"]),
        external_id=fields["external_id"],
        sender=fields["sender"],
        received_at=datetime.fromisoformat(fields["received_at"]),
        subject=fields.get("subject"),
        body=fields.get("body", ""),
        attachments=(Attachment(attachment["filename"], attachment["content_type"], wav),),
        meta={str(k): str(v) for k, v in fields.get("meta", {}).items()},
        raw=None,
    )


def remove_entry(sidecar: Path) -> None:
    sidecar.unlink(missing_ok=True)  # sidecar first: a lone WAV is never re-ingested twice
    sidecar.with_suffix(".wav").unlink(missing_ok=True)
    _fsync_dir(sidecar.parent)


def write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _safe(call_id: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:48]
    digest = hashlib.sha256(call_id.encode()).hexdigest()[:8]
    return f"{readable}-{digest}"
