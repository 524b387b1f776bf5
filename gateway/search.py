"""Staff search over tickets: by reference, by the reporter's phone number in any spelling or
e-mail address, and by words (name, street, text) across Cyrillic and Latin, with or without
diacritics. Tickets carry a folded `search_text` that TicketService keeps current."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.phone import normalise_phone as e164
from gateway.text import fold, words
from storage.models import CitizenIdentity, Ticket

_REFERENCE = re.compile(r"^[A-Za-z]{1,10}-\d{4}-\d{1,6}$")
# Numbers as people write them in text: +381 64 123 4567, 064/123-45-67, 011 3334444
_PHONE_IN_TEXT = re.compile(r"(?<![\w/])(?:\+|00)?\d(?:[\s./-]?\d){7,13}(?![\w/])")
MIN_WORD = 2


def identity_key(raw: str, region: str) -> tuple[str, str] | None:
    """("email", lower-case) or ("phone", E.164) when the whole query is one; else None."""
    text = raw.strip()
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return "email", text.lower()
    if re.fullmatch(r"[+\d][\d\s./()-]{5,}", text) and sum(ch.isdigit() for ch in text) >= 6:
        phone = e164(text, region)
        return ("phone", phone) if phone else None
    return None


def search_text(ticket: Ticket, reporter_name: str | None, region: str) -> str:
    """The folded text a ticket is found by; numbers in the text are added in E.164 too."""
    parts = [ticket.reference, ticket.subject or "", ticket.description, ticket.location_text or ""]
    parts.append(reporter_name or "")
    for found in _PHONE_IN_TEXT.findall(" ".join(parts)):
        number = e164(found, region)
        if number:
            parts.append(number)
    return " ".join(words(" ".join(parts)) + [p for p in parts if p.startswith("+")])


def apply_search(query: Any, session: Session, text: str, region: str) -> Any:
    """Narrow a `select(Ticket)` to what the staff typed."""
    text = text.strip()
    if _REFERENCE.match(text):
        return query.where(Ticket.reference == text.upper())
    key = identity_key(text, region)
    trigram = _sqlite_trigram(session)
    # Matching ids are collected first (an index for the reporter, the substring index for the
    # folded text), then sorted: walking the newest-first index with a LIKE per row is far slower.
    if key is not None:
        citizens = select(CitizenIdentity.citizen_id).where(
            CitizenIdentity.kind == key[0], CitizenIdentity.value == key[1]
        )
        in_text: Any = select(Ticket.id).where(col(Ticket.search_text).contains(key[1], autoescape=True))
        ids: Any = sa.union(
            select(Ticket.id).where(col(Ticket.citizen_id).in_(citizens)),
            _trigram_ids([key[1]]) if trigram else in_text,
        )
        return query.where(col(Ticket.id).in_(ids))
    needles = [w for w in words(text) if len(w) >= MIN_WORD] or [fold(text)]
    folded = sa.and_(*[col(Ticket.search_text).contains(w, autoescape=True) for w in needles])
    # Tickets from before the search column (NULL) are still found the old way.
    legacy = sa.and_(col(Ticket.search_text).is_(None), col(Ticket.description).ilike(f"%{text}%"))
    indexed = [w for w in needles if len(w) >= TRIGRAM]
    if trigram and indexed:
        # A trigram phrase match is the same substring match as the LIKE (the text is folded to
        # lower-case ASCII already); only words shorter than a trigram are still matched by LIKE.
        short = [col(Ticket.search_text).contains(w, autoescape=True) for w in needles if len(w) < TRIGRAM]
        found = select(Ticket.id).where(col(Ticket.id).in_(_trigram_ids(indexed)), *short)
        pending = select(Ticket.id).where(legacy)
        return query.where(col(Ticket.id).in_(sa.union(found, pending)))
    return query.where(col(Ticket.id).in_(select(Ticket.id).where(sa.or_(folded, legacy))))


TRIGRAM = 3  # the trigram index serves needles of three characters or more
_TRIGRAM_TABLE: dict[str, bool] = {}


def _sqlite_trigram(session: Session) -> bool:
    """Whether this SQLite database has migration 0006's trigram table (PostgreSQL's pg_trgm index
    serves the LIKEs themselves, so it needs no other query)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    url = str(bind.engine.url) if isinstance(bind, (sa.Engine, sa.Connection)) else ""
    known = _TRIGRAM_TABLE.get(url)
    if known is None:
        found = session.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ticket_search'")
        ).first()
        known = _TRIGRAM_TABLE[url] = found is not None
    return known


def forget_removed_words(session: Session) -> None:
    """SQLite's FTS5 keeps a removed text's terms in older segments until they merge: merge them
    now, so an erased or pseudonymised person's words leave the search index as well."""
    if _sqlite_trigram(session):
        session.execute(sa.text("INSERT INTO ticket_search(ticket_search) VALUES ('optimize')"))


def _trigram_ids(needles: list[str]) -> Any:
    phrase = " AND ".join('"' + n.replace('"', '""') + '"' for n in needles)
    return (
        sa.select(sa.column("rowid"))
        .select_from(sa.table("ticket_search"))
        .where(sa.text("ticket_search MATCH :phrase").bindparams(phrase=phrase))
    )
