"""Small builders shared by the core tests."""

from __future__ import annotations

import itertools
from typing import Any

from channels.base import Attachment, ChannelKind, InboundContact

_ids = itertools.count(1)


def sms(gw: Any, sender: str, body: str, **kw: Any) -> InboundContact:
    return InboundContact(
        channel=ChannelKind.SMS,
        external_id=kw.pop("external_id", f"sms-{next(_ids)}"),
        sender=sender,
        received_at=gw.clock(),
        body=body,
        **kw,
    )


def mail(gw: Any, sender: str, body: str, subject: str = "Prijava", **kw: Any) -> InboundContact:
    return InboundContact(
        channel=ChannelKind.EMAIL,
        external_id=kw.pop("external_id", f"m{next(_ids)}@citizen.example"),
        sender=sender,
        received_at=gw.clock(),
        subject=subject,
        body=body,
        **kw,
    )


def voicemail(gw: Any, caller: str, wav: bytes, call_id: str | None = None) -> InboundContact:
    return InboundContact(
        channel=ChannelKind.VOICE,
        external_id=call_id or f"call-{next(_ids)}",
        sender=caller,
        received_at=gw.clock(),
        attachments=(Attachment("voicemail.wav", "audio/wav", wav),),
        meta={"after_hours": "1", "duration_s": "4.0"},
    )


async def spool_settled(gw: Any, timeout_s: float = 15.0) -> None:
    """Wait until the spool worker has turned every spooled mail into a message (or gave up on it)."""
    import asyncio
    import time

    from sqlmodel import col, func, select

    from storage.db import session_scope
    from storage.models import InboundSpool

    def pending() -> int:
        with session_scope(gw.engine) as s:
            query = select(func.count()).where(col(InboundSpool.state).in_(["queued", "running"]))
            return int(s.exec(query).one())

    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(pending):
        if time.monotonic() > deadline:
            raise TimeoutError("spooled mail was not processed in time")
        await asyncio.sleep(0.02)
