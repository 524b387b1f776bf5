"""What every decoded contact must satisfy to be storable; shared by the fuzz targets and the tests.

PostgreSQL refuses NUL in text and lone surrogates cannot be encoded, so either would turn a
citizen's report into a storage failure long after the wire acknowledged it.
"""

from __future__ import annotations

import re

from channels.base import InboundContact

# An e-mail identity is a unique key (citizen_identity.value); PostgreSQL btree entries are bounded.
MAX_SENDER = 254
_REFERENCE = re.compile(r"S48-[0-9]{4}-[0-9]{6}")


class Violation(AssertionError):
    """A decoded value the rest of the gateway could not store or use."""


def storable_text(value: str, what: str) -> None:
    if "\x00" in value:
        raise Violation(f"{what}: NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Violation(f"{what}: not encodable as UTF-8 ({exc.reason})") from None


def storable_contact(contact: InboundContact) -> None:
    """Raise Violation when a field of `contact` could not be stored as it is."""
    if not contact.external_id or len(contact.external_id) > 300:
        raise Violation(f"external_id of length {len(contact.external_id)}")
    if len(contact.sender) > MAX_SENDER:
        raise Violation(f"sender of length {len(contact.sender)}")
    fields = {
        "external_id": contact.external_id,
        "sender": contact.sender,
        "subject": contact.subject or "",
        "body": contact.body,
        "sender_name": contact.sender_name or "",
    }
    fields.update({f"meta[{key}]": value for key, value in contact.meta.items()})
    fields.update({f"hint {i}": hint for i, hint in enumerate(contact.thread_hints)})
    for i, attachment in enumerate(contact.attachments):
        fields[f"attachment {i} filename"] = attachment.filename
        fields[f"attachment {i} content_type"] = attachment.content_type
        fields[f"attachment {i} content_id"] = attachment.content_id or ""
        if not attachment.filename:
            raise Violation(f"attachment {i} has no filename")
    for what, value in fields.items():
        storable_text(value, what)


def well_formed_reference(reference: str | None) -> None:
    if reference is not None and not _REFERENCE.fullmatch(reference):
        raise Violation(f"malformed ticket reference {reference!r}")
