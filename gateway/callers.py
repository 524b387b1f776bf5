"""Who is on the line: the citizen behind a phone number or e-mail address with earlier tickets,
for the operator's new-report page (the lookup is a PII view, so it is audit-logged)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from gateway.auth import Principal
from gateway.search import identity_key
from storage.models import Citizen, CitizenIdentity, PiiAccess, Ticket

EARLIER_LIMIT = 10


def caller_lookup(session: Session, who: Principal, raw: str, region: str) -> dict[str, Any] | None:
    """The caller's name, identities and latest tickets; None when the number is not known."""
    key = identity_key(raw, region)
    if key is None:
        return None
    identity = session.exec(
        select(CitizenIdentity).where(CitizenIdentity.kind == key[0], CitizenIdentity.value == key[1])
    ).first()
    if identity is None:
        return {"known": False, "value": key[1], "kind": key[0]}
    citizen = session.get(Citizen, identity.citizen_id)
    identities = session.exec(
        select(CitizenIdentity).where(CitizenIdentity.citizen_id == identity.citizen_id)
    ).all()
    tickets = session.exec(
        select(Ticket)
        .where(Ticket.citizen_id == identity.citizen_id)
        .order_by(col(Ticket.created_at).desc())
        .limit(EARLIER_LIMIT)
    ).all()
    session.add(
        PiiAccess(
            actor=f"{who.role}:{who.name}",
            ticket_id=None,
            citizen_id=identity.citizen_id,
            what="caller lookup",
        )
    )
    return {
        "known": True,
        "kind": key[0],
        "value": key[1],
        "name": citizen.name if citizen else None,
        "identities": [{"kind": i.kind, "value": i.value, "opted_out": i.opted_out} for i in identities],
        "tickets": [
            {
                "reference": t.reference,
                "channel": t.channel,
                "status": t.status,
                "category": t.category or t.suggested_category,
                "created_at": t.created_at,
                "excerpt": (t.description or "")[:120],
            }
            for t in tickets
        ],
    }
