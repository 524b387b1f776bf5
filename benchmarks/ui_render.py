"""Page render time of the staff UI with a full night: 200 voicemails (with word-timed transcripts)
plus 200 other tickets. Prints p50/p95 for the inbox and the morning review (target p95 ≤ 200 ms),
and their ratio to the login page measured in the same run as the baseline.

`citizen` part: a city with 100 000 tickets over a year in the database; the citizen's status page,
the public report form and the managers' report for one month (target p95 ≤ 200 ms), and the CSV
exports of that month (target ≤ 2 s), again against the login page of the same run.

`desk` part: the call centre's desk with 100 000 tickets (`--tickets N` to change): the inbox
with each queue filter, search by phone (three spellings) and by street, and the new-report page
with its caller lookup, against the login page of that same database.

    python benchmarks/ui_render.py [staff|citizen|desk|all] [--tickets N] [--db sqlite|postgresql]"""

from __future__ import annotations

import html
import io
import math
import re
import statistics
import sys
import tempfile
import time
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlmodel import select

from benchmarks.bench_db import analyze, bench_config, bench_database
from benchmarks.city_seed import seed_city, seed_desk
from channels.base import Attachment, ChannelKind, InboundContact
from gateway.app import build_gateway, create_app
from gateway.auth import add_user
from storage.db import session_scope
from storage.models import AttachmentRow, TranscriptRow

VOICEMAILS, OTHERS, RUNS = 200, 200, 40
WORDS = [
    *("ne", "radi", "ulična", "rasveta", "u", "ulici", "kralja", "petra"),
    *("kod", "broja", "dvanaest", "već", "tri", "dana", "molim", "vas"),
]


def tone_wav(seconds: float = 4.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            frames += int(8000 * math.sin(2 * math.pi * 440 * i / rate)).to_bytes(2, "little", signed=True)
        w.writeframes(bytes(frames))
    return buf.getvalue()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def seed(gw: object, clock: Clock) -> None:
    wav = tone_wav()
    for i in range(VOICEMAILS):
        contact = InboundContact(
            channel=ChannelKind.VOICE,
            external_id=f"bench-call-{i}",
            sender=f"+3816400{i:05d}",
            received_at=clock(),
            attachments=(Attachment("voicemail.wav", "audio/wav", wav + i.to_bytes(4, "little")),),
            meta={"after_hours": "1", "duration_s": "4.0"},
        )
        ref = gw.inbox.ingest_sync(contact)  # type: ignore[attr-defined]
        with session_scope(gw.engine, write=True) as s:  # type: ignore[attr-defined]
            att = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == ref.ticket_id)).one()
            assert att.id is not None and ref.ticket_id is not None
            words = [
                {"word": w, "start": k * 0.25, "end": k * 0.25 + 0.2, "engine_conf": 0.9, "low": k % 5 == 0}
                for k, w in enumerate(WORDS)
            ]
            s.add(
                TranscriptRow(
                    ticket_id=ref.ticket_id,
                    attachment_id=att.id,
                    engine="vosk",
                    text=" ".join(WORDS),
                    has_speech=True,
                    low_confidence=True,
                    data={"words": words},
                )
            )
    for i in range(OTHERS):
        gw.inbox.ingest_sync(  # type: ignore[attr-defined]
            InboundContact(
                channel=ChannelKind.SMS,
                external_id=f"bench-sms-{i}",
                sender=f"+3816500{i:05d}",
                received_at=clock(),
                body=f"Rupa na putu kod broja {i}, molim popravku",
            )
        )


CITY_RUNS = 20


def citizen(results: dict[str, tuple[float, float]], db: str, total: int) -> None:
    from gateway.statuslink import status_path

    with tempfile.TemporaryDirectory() as tmp, bench_database(db, Path(tmp)) as url:
        cfg = bench_config(Path(tmp), url)
        clock = Clock()
        gw = build_gateway(cfg, clock=clock, roles=set())
        with session_scope(gw.engine, write=True) as s:
            add_user(s, username="manager", password="bench-password-1", role="manager")
        t0 = time.perf_counter()
        categories = [(c.code, c.utility) for c in gw.config.categories]
        reference, token = seed_city(gw.engine, categories, total)
        analyze(gw.engine)
        print(f"[{db}] seeded a city of {total} tickets in {time.perf_counter() - t0:.1f} s")
        status = status_path(gw.signer, reference, token)
        with TestClient(create_app(cfg, gateway=gw)) as c:
            page = c.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf
            c.post(
                "/login", data={"username": "manager", "password": "bench-password-1", "csrf": csrf.group(1)}
            )
            pages = {
                "/login": "/login",
                "status page": status,
                "/prijava": "/prijava",
                "/reports month": "/reports?month=2026-10",
                "CSV table month": "/reports/table.csv?month=2026-10",
                "CSV tickets month": "/reports/tickets.csv?month=2026-10",
            }
            for name, path in pages.items():
                c.get(path)
                samples = []
                # CITY_RUNS + 1 stays under the status page's 30 lookups a minute per address
                for _ in range(CITY_RUNS):
                    start = time.perf_counter()
                    r = c.get(path)
                    samples.append((time.perf_counter() - start) * 1000)
                    assert r.status_code == 200, (name, r.status_code)
                results[name] = percentiles(samples)
            # a month never built before in each run: the report without its cache
            samples = []
            for k in range(CITY_RUNS):
                first = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=k)
                path = f"/reports?from={first:%Y-%m-%d}&to={first + timedelta(days=30):%Y-%m-%d}"
                start = time.perf_counter()
                assert c.get(path).status_code == 200
                samples.append((time.perf_counter() - start) * 1000)
            results["/reports uncached"] = percentiles(samples)
            rows_in_csv = c.get("/reports/tickets.csv?month=2026-10").text.count("\n") - 1
            print(f"October: {rows_in_csv} tickets in the CSV")
        gw.engine.dispose()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main(part: str, tickets: int, db: str) -> None:
    if part in ("staff", "all"):
        staff(db)
    if part in ("citizen", "all"):
        results: dict[str, tuple[float, float]] = {}
        citizen(results, db, tickets)
        base50 = results["/login"][0]
        print(f"{'page':18} {'p50 ms':>8} {'p95 ms':>8} {'p50/base':>9}  target p95 ≤ 200 ms, CSV ≤ 2000 ms")
        for name, (p50, p95) in results.items():
            limit = 2000 if name.startswith("CSV") else 200
            flag = "" if name == "/login" else ("  ok" if p95 <= limit else "  OVER")
            print(f"{name:18} {p50:8.1f} {p95:8.1f} {p50 / base50:9.1f}x{flag}")
    if part in ("desk", "all"):
        desk_main(tickets, db)


def staff(db: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_database(db, Path(tmp)) as url:
        cfg = bench_config(Path(tmp), url)
        clock = Clock()
        gw = build_gateway(cfg, clock=clock, roles=set())
        with session_scope(gw.engine, write=True) as s:
            add_user(s, username="bench", password="bench-password-1", role="operator")
        t0 = time.perf_counter()
        seed(gw, clock)
        print(f"seeded {VOICEMAILS} voicemails + {OTHERS} SMS tickets in {time.perf_counter() - t0:.1f} s")
        with TestClient(create_app(cfg, gateway=gw)) as c:
            page = c.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page)
            assert token
            c.post(
                "/login", data={"username": "bench", "password": "bench-password-1", "csrf": token.group(1)}
            )
            results: dict[str, tuple[float, float]] = {}
            more = re.search(r'hx-get="(/review\?after=[^"]+)"', c.get("/review").text)
            assert more, "no next batch link"
            next_batch = html.unescape(more.group(1))
            for path in ("/login", "/inbox", "/review", next_batch):
                c.get(path)  # warm the template cache
                samples = []
                for _ in range(RUNS):
                    start = time.perf_counter()
                    r = c.get(path)
                    samples.append((time.perf_counter() - start) * 1000)
                    assert r.status_code == 200, (path, r.status_code)
                results[path] = percentiles(samples)
            review_html = c.get("/review").text
            assert f"({VOICEMAILS}," in review_html and review_html.count('class="vm card"') == 20, (
                "the review did not list every voicemail"
            )
        gw.engine.dispose()
    base50 = results["/login"][0]
    _ = results["/login"]
    print(f"{'page':18} {'p50 ms':>8} {'p95 ms':>8} {'p50/base':>9}  target p95 ≤ 200 ms")
    for path, (p50, p95) in results.items():
        path = "/review (next 20)" if "after=" in path else path
        flag = "" if path == "/login" else ("  ok" if p95 <= 200 else "  OVER")
        print(f"{path:18} {p50:8.1f} {p95:8.1f} {p50 / base50:9.1f}x{flag}")


def desk_main(n: int, db: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_database(db, Path(tmp)) as url:
        cfg = bench_config(Path(tmp), url)
        clock = Clock()
        gw = build_gateway(cfg, clock=clock, roles=set())
        with session_scope(gw.engine, write=True) as s:
            add_user(s, username="bench", password="bench-password-1", role="operator")
        t0 = time.perf_counter()
        seed_desk(gw.engine, n, clock())
        analyze(gw.engine)
        print(f"\n[{db}] seeded {n} tickets for the desk pages in {time.perf_counter() - t0:.1f} s")
        target = n // 2
        paths = [
            "/login",
            "/inbox",
            "/inbox?queue=overdue",
            "/inbox?queue=today",
            "/inbox?queue=waiting",
            "/inbox?queue=callback",
            f"/inbox?q=%2B38164{target:07d}",
            f"/inbox?q=064{target:07d}",
            f"/inbox?q=064+{target // 10000:03d}+{target % 10000:04d}",
            "/inbox?q=Nikole+Tesle+17",
            "/inbox?q=%D0%9D%D0%B8%D0%BA%D0%BE%D0%BB%D0%B5+%D0%A2%D0%B5%D1%81%D0%BB%D0%B5",  # Николе Тесле
            "/tickets/new",
            f"/tickets/new/caller?phone=064{target:07d}",
        ]
        results: dict[str, tuple[float, float]] = {}
        with TestClient(create_app(cfg, gateway=gw)) as c:
            page = c.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page)
            assert token
            c.post(
                "/login", data={"username": "bench", "password": "bench-password-1", "csrf": token.group(1)}
            )
            phone_hit = f"S48-2026-{target + 1:06d}"
            for path in paths:
                r = c.get(path)
                assert r.status_code == 200, (path, r.status_code)
                if "q=%2B" in path or "q=064" in path or "caller" in path:
                    assert phone_hit in r.text, f"{path} did not find the caller"
                if "Tesle" in path or "%D0%A2" in path:
                    assert "Nikole Tesle" in r.text, f"{path} found no street"
                samples = []
                for _ in range(RUNS):
                    start = time.perf_counter()
                    c.get(path)
                    samples.append((time.perf_counter() - start) * 1000)
                results[path] = percentiles(samples)
        gw.engine.dispose()
    base50 = results["/login"][0]
    title = f"desk page ({n} tickets)"
    print(f"{title:44} {'p50 ms':>8} {'p95 ms':>8} {'p50/base':>9}  target p95 ≤ 200 ms")
    for path, (p50, p95) in results.items():
        flag = "" if path == "/login" else ("  ok" if p95 <= 200 else "  OVER")
        shown = path if len(path) <= 44 else path[:41] + "…"
        print(f"{shown:44} {p50:8.1f} {p95:8.1f} {p50 / base50:9.1f}x{flag}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets seeded for citizen and desk")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("part", nargs="?", default="all", choices=("staff", "citizen", "desk", "all"))
    args = parser.parse_args()
    main(args.part, args.tickets, args.db)
