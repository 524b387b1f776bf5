"""Bulk builders of a big city's tickets for the page benchmarks (Core inserts in chunks, no ORM
objects): a year of tickets for the reports and status pages, a desk of tickets for the inbox."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from gateway.search import search_text
from storage.models import Citizen, CitizenIdentity, Ticket

CHUNK = 5000
RUNNING = ("open", "assigned", "in_progress")
STREETS = ["Nikole Tesle", "Kralja Petra", "Zmaj Jovina", "Bulevar oslobođenja", "Njegoševa", "Dunavska"]
_DEFAULTS: dict[str, Any] = {
    "subject": None, "suggested_category": None, "lat": None, "lon": None,
    "escalation_level": 0, "after_hours": False, "script": "latin", "work_order_text": "",
}  # fmt: skip


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every insert in a chunk must name the same columns: fill the ones a builder left out."""
    names = [c.name for c in Ticket.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
    return [{n: r.get(n, _DEFAULTS.get(n)) for n in names} for r in rows]


def seed_city(engine: Any, categories: list[tuple[str, str]], total: int) -> tuple[str, str]:
    """`total` tickets over 2026 (fates spread like a working city's: most validated and resolved,
    some forwarded, some overdue); returns one October ticket's reference and token."""
    rng = random.Random(48)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    span = datetime(2026, 12, 31, tzinfo=UTC).timestamp() - start
    october = None
    for base in range(0, total, CHUNK):
        rows = []
        for i in range(base, min(total, base + CHUNK)):
            created = datetime.fromtimestamp(start + span * i / total, UTC)
            category, utility = categories[i % len(categories)]
            fate = rng.random()
            validated = created + timedelta(hours=rng.uniform(0.2, 30)) if fate > 0.05 else None
            resolved = validated + timedelta(hours=rng.uniform(1, 90)) if validated and fate > 0.25 else None
            status = "resolved" if resolved else "forwarded" if fate < 0.08 else "assigned"
            status = status if validated or status == "forwarded" else "received"
            if october is None and created >= datetime(2026, 10, 10, tzinfo=UTC):
                october = (f"S48-2026-{i + 1:06d}", f"tok{i:09d}")
            rows.append(
                {
                    "reference": f"S48-2026-{i + 1:06d}", "public_token": f"tok{i:09d}", "channel": "sms",
                    "status": status, "description": "Rupa na putu", "work_order_text": "Rupa na putu",
                    "category": category if validated else None, "utility": utility if validated else None,
                    "location_text": f"Kralja Petra {i % 200}", "created_at": created,
                    "updated_at": resolved or validated or created, "validated_at": validated,
                    "resolved_at": resolved, "due_at": validated + timedelta(hours=48) if validated else None,
                    "overdue": status == "assigned" and fate < 0.3, "needs_callback": False,
                    "search_text": f"s48 2026 {i + 1:06d} rupa na putu kralja petra {i % 200}",
                }
            )  # fmt: skip
        with engine.begin() as conn:
            conn.execute(sa.insert(Ticket), _rows(rows))
    assert october is not None, "the city has no October"
    return october


def seed_desk(engine: Any, n: int, now: datetime) -> None:
    """`n` citizens, each with a phone and one ticket on a street, in every status; with the same
    folded search text TicketService writes."""
    statuses = ["received", "open", "assigned", "in_progress", "waiting", "resolved", "closed"]
    for base in range(0, n, CHUNK):
        citizens, identities, tickets = [], [], []
        for i in range(base, min(n, base + CHUNK)):
            citizens.append({"id": i + 1, "name": f"Građanin {i}", "script": "latin", "created_at": now})
            phone = f"+38164{i:07d}"
            identities.append({"citizen_id": i + 1, "kind": "phone", "value": phone, "created_at": now})
            status = statuses[i % len(statuses)]
            street = STREETS[i % len(STREETS)]
            row: dict[str, Any] = {
                "reference": f"S48-2026-{i + 1:06d}", "public_token": f"tok{i}", "channel": "sms",
                "status": status, "description": f"Rupa na putu u ulici {street} {i % 90 + 1}",
                "citizen_id": i + 1, "category": "javna_rasveta" if status != "received" else None,
                "created_at": now - timedelta(minutes=i), "updated_at": now,
                "due_at": (now + timedelta(hours=(i % 96) - 48)) if status in RUNNING else None,
                "overdue": False, "needs_callback": i % 997 == 0, "location_text": None,
            }  # fmt: skip
            row["search_text"] = search_text(SimpleNamespace(**_DEFAULTS, **row), f"Građanin {i}", "RS")  # type: ignore[arg-type]
            tickets.append(row)
        with engine.begin() as conn:
            conn.execute(sa.insert(Citizen), citizens)
            conn.execute(sa.insert(CitizenIdentity), identities)
            conn.execute(sa.insert(Ticket), _rows(tickets))
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('citizen', 'id'), (SELECT max(id) FROM citizen))"
                )
