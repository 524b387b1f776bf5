"""The administrator's view of the PII-access audit log: who saw which citizen's data, when and from
which page or API; filtered by staff user and by citizen, a page at a time. Read only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, func, select

from channels.privacy import mask_address
from gateway.erasure import NotFound, find_subject
from storage.models import CitizenIdentity, DataRemoval, PiiAccess, Ticket

PER_PAGE = 50


@dataclass
class AuditPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 1
    actors: list[str] = field(default_factory=list)
    unknown_citizen: bool = False


def audit_page(
    s: Session, region: str, *, actor: str = "", citizen: str = "", page: int = 1, per_page: int = PER_PAGE
) -> AuditPage:
    """Newest first. `citizen` is a number (any spelling), an address, or `#id` for one already erased."""
    query = select(PiiAccess)
    out = AuditPage()
    if actor:
        query = query.where(PiiAccess.actor == actor)
    if citizen:
        citizen_id = _citizen_id(s, citizen.strip(), region)
        if citizen_id is None:
            out.unknown_citizen = True
            return out
        query = query.where(PiiAccess.citizen_id == citizen_id)
    out.total = int(s.exec(select(func.count()).select_from(query.subquery())).one())
    out.pages = max(1, -(-out.total // per_page))
    out.page = min(max(1, page), out.pages)
    rows = s.exec(
        query.order_by(col(PiiAccess.at).desc(), col(PiiAccess.id).desc())
        .offset((out.page - 1) * per_page)
        .limit(per_page)
    ).all()
    refs = _references(s, {r.ticket_id for r in rows if r.ticket_id is not None})
    whom = _masked(s, {r.citizen_id for r in rows if r.citizen_id is not None})
    out.rows = [
        {
            "at": r.at,
            "actor": r.actor,
            "what": r.what,
            "reference": refs.get(r.ticket_id) if r.ticket_id is not None else None,
            "citizen_id": r.citizen_id,
            "citizen": whom.get(r.citizen_id, "") if r.citizen_id is not None else "",
        }
        for r in rows
    ]
    out.actors = sorted(a for a in s.exec(select(PiiAccess.actor).distinct()).all())
    return out


def _citizen_id(s: Session, text: str, region: str) -> int | None:
    if text.startswith("#") and text[1:].isdigit():
        return int(text[1:])
    try:
        return find_subject(s, text, region).citizen_id
    except NotFound:
        return None


def _references(s: Session, ids: set[int]) -> dict[int, str]:
    rows = s.exec(select(Ticket.id, Ticket.reference).where(col(Ticket.id).in_(ids))).all()
    return {i: ref for i, ref in rows if i is not None}


def _masked(s: Session, citizen_ids: set[int]) -> dict[int, str]:
    """How the viewer names the citizen: masked, so reading the audit log is no new view of PII."""
    out: dict[int, str] = {}
    for identity in s.exec(select(CitizenIdentity).where(col(CitizenIdentity.citizen_id).in_(citizen_ids))):
        out.setdefault(identity.citizen_id, mask_address(identity.value))
    return out


def recent_removals(s: Session, limit: int = 10) -> list[dict[str, Any]]:
    """The last retention sweeps and erasures, as counts per kind (what docs/privacy.md promises)."""
    rows = s.exec(
        select(DataRemoval).order_by(col(DataRemoval.at).desc(), col(DataRemoval.id).desc()).limit(limit)
    )
    return [
        {"at": r.at, "actor": r.actor, "action": r.action, "counts": {k: v for k, v in r.counts.items() if v}}
        for r in rows
    ]
