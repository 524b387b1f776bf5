"""The simulated modem: inject SMS into a Gammu dummy-driver directory and list what was sent.

Files are written to a temp name and then linked into place, so injecting while the channel
polls never shows a half-written SMS.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sms import codec

INBOX_FOLDER = 1  # sms/1: the SIM inbox


@dataclass(frozen=True, slots=True)
class SentSms:
    recipient: str
    text: str
    when: datetime
    parts: int
    encoding: str  # "gsm7" | "ucs2" as really encoded
    message_reference: int  # TP-MR of the last part
    delivery_report: bool  # TP-SRR requested


def ensure_dummy_dir(modem_dir: Path) -> Path:
    """Create the dummy driver's folders (libgammu fails on a missing device directory)."""
    for folder in range(1, 6):
        (modem_dir / "sms" / str(folder)).mkdir(parents=True, exist_ok=True)
    (modem_dir / "sent").mkdir(exist_ok=True)
    return modem_dir


def _place(modem_dir: Path, sms: codec.GammuSms) -> Path:
    """Write one location file atomically at the first free location of the inbox."""
    folder = ensure_dummy_dir(modem_dir) / "sms" / str(INBOX_FOLDER)
    tmp = modem_dir / f".inject-{uuid.uuid4().hex}"
    codec.save_backup(tmp, [sms])
    try:
        # Usually the next number after the files present; gaps left by deletions are reused
        # only when that guess collides, which keeps injecting thousands of SMS linear.
        for n in itertools.count(len(os.listdir(folder)) + 1):
            target = folder / str(n)
            try:
                os.link(tmp, target)  # fails if the location is taken, unlike rename
            except FileExistsError:
                continue
            return target
    finally:
        tmp.unlink()
    raise AssertionError("unreachable")


def inject_incoming(
    modem_dir: Path,
    sender: str,
    text: str,
    *,
    when: datetime | None = None,
    concat_ref: int | None = None,
    part_order: Iterable[int] | None = None,
    drop_parts: Iterable[int] = (),
) -> int:
    """Deliver `text` from `sender` to the simulated SIM, one file per part; returns parts written.

    `part_order` / `drop_parts` (0-based part indexes) simulate parts arriving out of order or
    never; `concat_ref` forces the concatenation reference (to make two senders collide).
    """
    when = (when or datetime.now(UTC)).replace(microsecond=0)
    if concat_ref is None:
        # libgammu's default comes from the wall clock; a phone's counter is fixed per message,
        # so injecting the rest of a message later must give its parts the same reference.
        seed = f"{sender}\x1f{text}\x1f{when.isoformat()}".encode()
        concat_ref = hashlib.sha256(seed).digest()[0]
    parts = codec.build_deliver(text, sender, when, concat_ref=concat_ref)
    dropped = set(drop_parts)
    written = 0
    for index in part_order if part_order is not None else range(len(parts)):
        if index in dropped:
            continue
        _place(modem_dir, parts[index])
        written += 1
    return written


def inject_pdu(modem_dir: Path, sms: codec.GammuSms) -> Path:
    """Store one SMS exactly as given (a dict from gammu.DecodePDU of a hand-built PDU, say): binary
    SMS, port-addressed WAP pushes and odd status reports, which no text API produces."""
    return _place(modem_dir, sms)


def inject_status_report(
    modem_dir: Path,
    recipient: str,
    message_reference: int,
    status: int = 0,
    *,
    when: datetime | None = None,
) -> None:
    """A network's status report (TP-Status `status`) on our SMS with TP-MR `message_reference`."""
    when = (when or datetime.now(UTC)).replace(microsecond=0)
    _place(modem_dir, codec.build_status_report(recipient, message_reference, status, when))


def inbox_files(modem_dir: Path) -> list[Path]:
    folder = modem_dir / "sms" / str(INBOX_FOLDER)
    return sorted(folder.iterdir(), key=lambda p: int(p.name)) if folder.is_dir() else []


def list_sent(modem_dir: Path) -> list[SentSms]:
    """What the modem submitted, oldest first, multipart messages joined (from `<dir>/sent/`)."""
    sent_dir = modem_dir / "sent"
    if not sent_dir.is_dir():
        return []
    # The modem names each record <time>-<pid>-<seq>[-srr]; -srr = a status report was requested.
    records = [
        (codec.to_part(raw), path.name.endswith("-srr"))
        for path in sorted(sent_dir.iterdir())
        if not path.name.startswith(".")
        for raw in codec.read_backup(path)
    ]
    messages: list[SentSms] = []
    open_sets: dict[tuple[str, int, int], list[codec.SmsPart]] = {}
    for part, srr in records:
        if part.concat_ref is None:
            messages.append(_sent_message([part], srr))
            continue
        key = (part.number, part.concat_ref, part.concat_total)
        group = open_sets.setdefault(key, [])
        group.append(part)
        if len(group) == part.concat_total:
            del open_sets[key]
            messages.append(_sent_message(sorted(group, key=lambda p: p.concat_seq), srr))
    messages.extend(_sent_message(group, False) for group in open_sets.values())
    return messages


def _sent_message(group: list[codec.SmsPart], srr: bool) -> SentSms:
    last = group[-1]
    return SentSms(
        recipient=last.number,
        text="".join(p.text for p in group),
        when=last.sent_at or datetime.now(UTC),
        parts=len(group),
        encoding="ucs2" if last.coding.startswith("Unicode") else "gsm7",
        message_reference=last.message_reference,
        delivery_report=srr,
    )
