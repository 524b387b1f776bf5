"""API latency with 100 000 tickets on SQLite and PostgreSQL: p50/p95 of the filtered, paged ticket
list and of ticket detail, against a trivial endpoint of the same app measured in the same run.

    .venv/bin/python benchmarks/api.py [--tickets 100000] [--requests 300] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.app import create_app
from gateway.auth import create_token
from gateway.config import load_config, parse_config
from storage.db import make_engine, session_scope, upgrade
from storage.models import Citizen, CitizenIdentity, Message, Ticket, TicketEvent

STATUSES = ["received", "open", "assigned", "in_progress", "resolved", "closed"]
WORDS = [
    "sijalica",
    "rupa",
    "cev",
    "voda",
    "smeće",
    "kontejner",
    "drvo",
    "grana",
    "parking",
    "trotoar",
    "buka",
    "grejanje",
]


def populate(url: str, n: int, categories: list[tuple[str, str]]) -> None:
    engine = make_engine(url)
    rng = random.Random(48)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    batch = 5000
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Citizen),
            [
                {"id": i + 1, "name": f"Građanin {i}", "script": "latin", "created_at": start}
                for i in range(n // 4)
            ],
        )
        conn.execute(
            sa.insert(CitizenIdentity),
            [
                {
                    "citizen_id": i + 1,
                    "kind": "phone",
                    "value": f"+38164{i:07d}",
                    "opted_out": False,
                    "undeliverable": False,
                    "created_at": start,
                }
                for i in range(n // 4)
            ],
        )
    for lo in range(0, n, batch):
        rows, events, messages = [], [], []
        for i in range(lo, min(n, lo + batch)):
            created = start + timedelta(minutes=5 * i)
            cat, util = rng.choice(categories)
            status = rng.choice(STATUSES)
            text = " ".join(rng.choices(WORDS, k=12))
            rows.append(
                {
                    "id": i + 1,
                    "reference": f"S48-{created.year}-{i + 1:06d}",
                    "public_token": secrets.token_urlsafe(9),
                    "channel": rng.choice(["sms", "email", "voice"]),
                    "status": status,
                    "subject": None,
                    "description": text,
                    "work_order_subject": None,
                    "work_order_text": text,
                    "category": None if status == "received" else cat,
                    "suggested_category": cat,
                    "utility": None if status == "received" else util,
                    "citizen_id": rng.randint(1, n // 4),
                    "script": "latin",
                    "after_hours": False,
                    "created_at": created,
                    "updated_at": created,
                    "overdue": rng.random() < 0.05,
                    "escalation_level": 0,
                    "needs_callback": False,
                    "due_at": created + timedelta(hours=48),
                    "sla_hours": 48,
                }
            )
            events.append(
                {
                    "ticket_id": i + 1,
                    "at": created,
                    "actor": "system:gateway",
                    "kind": "status",
                    "to_status": "received",
                    "note": "registered",
                    "public": False,
                }
            )
            messages.append(
                {
                    "ticket_id": i + 1,
                    "direction": "in",
                    "channel": "sms",
                    "external_id": uuid.uuid4().hex,
                    "body": text,
                    "received_at": created,
                    "meta": {},
                }
            )
        with engine.begin() as conn:
            conn.execute(sa.insert(Ticket), rows)
            conn.execute(sa.insert(TicketEvent), events)
            conn.execute(sa.insert(Message), messages)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT setval('ticket_id_seq', :n)"), {"n": n})
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def timed(
    client: TestClient, requests: list[tuple[str, dict[str, Any]]], headers: dict[str, str]
) -> list[float]:
    out = []
    for path, params in requests:
        t0 = time.perf_counter()
        r = client.get(path, params=params, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_backend(name: str, url: str, n: int, count: int, tmp: Path) -> None:
    base = load_config(None).model_dump(mode="json")
    base["gateway"]["data_dir"] = str(tmp / name)
    base["database"]["url"] = url
    for section in ("mail", "sms", "sip", "transcription"):
        base[section]["enabled"] = False
    cfg = parse_config(base, "<bench>")
    cats = [(c.code, c.utility) for c in cfg.categories]
    t0 = time.perf_counter()
    upgrade(url)
    populate(url, n, cats)
    print(f"[{name}] loaded {n} tickets in {time.perf_counter() - t0:.1f} s")
    engine = make_engine(url)
    with session_scope(engine, write=True) as s:
        token = create_token(s, name="bench", role="operator")
        util_token = create_token(s, name="bench-u", role="utility", utility=cats[0][1])
    engine.dispose()
    rng = random.Random(7)
    app = create_app(cfg, roles=set())

    @app.get("/bench/baseline")
    def baseline() -> dict[str, str]:
        return {"ok": "yes"}

    h = {"Authorization": f"Bearer {token}"}
    hu = {"Authorization": f"Bearer {util_token}"}
    with TestClient(app) as client:
        lists = [
            (
                "/api/v1/tickets",
                {
                    "status": rng.choice(STATUSES[1:]),
                    "category": rng.choice(cats)[0],
                    "limit": 50,
                    "offset": rng.choice([0, 50, 500]),
                },
            )
            for _ in range(count)
        ]
        texts = [("/api/v1/tickets", {"q": rng.choice(WORDS), "limit": 50}) for _ in range(count // 3)]
        details = [
            (f"/api/v1/tickets/S48-{(datetime(2025, 1, 1) + timedelta(minutes=5 * i)).year}-{i + 1:06d}", {})
            for i in (rng.randrange(n) for _ in range(count))
        ]
        util_lists = [
            ("/api/v1/tickets", {"limit": 50, "offset": rng.choice([0, 100])}) for _ in range(count // 3)
        ]
        timed(client, lists[:20] + details[:20], h)  # warm-up: caches, connections
        results = {
            "baseline (trivial endpoint)": timed(client, [("/bench/baseline", {})] * count, {}),
            "list: status+category, paged": timed(client, lists, h),
            "list: text search": timed(client, texts, h),
            "list: utility work orders": timed(client, util_lists, hu),
            "detail (operator, audit-logged)": timed(client, details, h),
        }
    base_p50 = statistics.median(results["baseline (trivial endpoint)"])
    print(f"[{name}] {'endpoint':34} {'p50 ms':>8} {'p95 ms':>8} {'p50/baseline':>13}  target p95 ≤ 50 ms")
    for label, values in results.items():
        p95 = pct(values, 95)
        verdict = "" if label.startswith("baseline") else ("  ok" if p95 <= 50 else "  MISSED")
        print(
            f"[{name}] {label:34} {statistics.median(values):8.2f} {p95:8.2f} "
            f"{statistics.median(values) / base_p50:13.1f}{verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.only in (None, "sqlite"):
            run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args.tickets, args.requests, tmp)
        if args.only in (None, "postgresql"):
            admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
            db = f"sistem48_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{db}"')
            try:
                run_backend(
                    "postgresql", args.pg.rsplit("/", 1)[0] + f"/{db}", args.tickets, args.requests, tmp
                )
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
