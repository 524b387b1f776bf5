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
