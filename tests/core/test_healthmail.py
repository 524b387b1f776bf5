"""The administrator's daily health mail: queued once a day when something was degraded, with each
problem in plain words, and not at all when everything worked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from gateway.healthmail import live_health, queue_health_mail
from storage.db import make_engine, session_scope
from storage.models import Job, OutboxMessage
from tests.conftest import make_config

UP = {
    "status": "ok",
    "channels": {"mail": {"state": "up", "detail": ""}},
    "storage": {"blobs": {"state": "up"}},
}


def _config(tmp_path: Path, db_url: str) -> Any:
    cfg = make_config(tmp_path, db_url)
    cfg.mail.enabled = True
    cfg.digest.recipients = ["it@grad.example.rs"]
    return cfg


def _health_rows(engine: Any) -> list[OutboxMessage]:
    with session_scope(engine) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == "health")).all())


def test_a_degraded_day_queues_one_mail_naming_each_problem(tmp_path: Path, db_url: str, clock: Any) -> None:
    cfg = _config(tmp_path, db_url)
    engine = make_engine(cfg.database_url())
    with session_scope(engine, write=True) as s:
        s.add(Job(kind="transcribe", state="failed", created_at=clock() - timedelta(hours=3)))
        s.add(OutboxMessage(kind="ack", channel="sms", recipient="+381641234567", body="x", state="failed",
                            created_at=clock() - timedelta(hours=2)))  # fmt: skip
    live = {**UP, "channels": {"sms": {"state": "down", "detail": "modem down: ERR_TIMEOUT"}}}

    assert queue_health_mail(engine, cfg, clock, live, "test") == 1
    assert queue_health_mail(engine, cfg, clock, live, "test") == 0  # once a day
    (row,) = _health_rows(engine)
    assert row.recipient == "it@grad.example.rs" and row.channel == "email" and row.state == "queued"
    assert row.subject == "[Sistem48] Stanje sistema 2026-11-24: 3 problem(a)"
    assert "- Kanal sms: down modem down: ERR_TIMEOUT" in row.body
    assert "- 1 poruka građanima nije moglo biti isporučeno." in row.body
    assert "- 1 transkripcija govornih poruka nije uspelo." in row.body

    clock.advance(days=1)  # yesterday's trouble is out of the window, the sms channel still down
    assert queue_health_mail(engine, cfg, clock, live, "test") == 1
    assert "transkripcija" not in _health_rows(engine)[-1].body
    engine.dispose()


def test_a_good_day_sends_nothing(tmp_path: Path, db_url: str, clock: Any) -> None:
    cfg = _config(tmp_path, db_url)
    engine = make_engine(cfg.database_url())
    assert queue_health_mail(engine, cfg, clock, UP, "test") == 0
    assert _health_rows(engine) == []
    engine.dispose()


def test_a_gateway_that_does_not_answer_is_itself_the_problem(
    tmp_path: Path, db_url: str, clock: Any
) -> None:
    cfg = _config(tmp_path, db_url)
    cfg.http.port = 1  # nothing listens there
    engine = make_engine(cfg.database_url())
    assert live_health(cfg, timeout_s=2) is None
    assert queue_health_mail(engine, cfg, clock, None, "test") == 1
    assert "/healthz" in _health_rows(engine)[0].body
    engine.dispose()


def test_live_health_reads_the_running_gateways_healthz(tmp_path: Path, db_url: str) -> None:
    import socket
    import threading
    import time

    from gateway.app import build_gateway, create_app
    from gateway.serve import http_server

    cfg = _config(tmp_path, db_url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        cfg.http.port = int(sock.getsockname()[1])
    server = http_server(cfg, create_app(cfg, gateway=build_gateway(cfg, roles={"api"})))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        body = live_health(cfg)
    finally:
        server.should_exit = True
        thread.join(15)
    assert body is not None and body["database"] == "up" and "channels" in body
