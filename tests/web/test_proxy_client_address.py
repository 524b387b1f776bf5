"""Behind the reverse proxy the status page's per-client limit keys on the citizen named in
X-Forwarded-For, and only when the header comes from a configured proxy (a real uvicorn server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gateway.app import build_gateway, create_app
from gateway.serve import http_server
from tests.conftest import make_config

LIMIT = 30  # status page lookups a minute per client (gateway.public)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(tmp_path: Path, db_url: str, trusted: list[str]) -> Iterator[httpx.Client]:
    cfg = make_config(tmp_path, db_url)
    cfg.http.port = _free_port()
    cfg.http.trusted_proxies = trusted
    server = http_server(cfg, create_app(cfg, gateway=build_gateway(cfg, roles={"api"})))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{cfg.http.port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(15)


def _lookup(client: httpx.Client, forwarded_for: str) -> int:
    return client.get(
        "/s/S48-2026-000001", params={"t": "x"}, headers={"X-Forwarded-For": forwarded_for}
    ).status_code


def test_rate_limit_counts_each_citizen_behind_the_proxy(tmp_path: Path, db_url: str) -> None:
    with _serving(tmp_path, db_url, ["127.0.0.1"]) as client:
        assert {_lookup(client, "203.0.113.7") for _ in range(LIMIT)} == {404}
        assert _lookup(client, "203.0.113.7") == 429
        assert _lookup(client, "198.51.100.20") == 404  # another citizen behind the same proxy


def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path, db_url: str) -> None:
    with _serving(tmp_path, db_url, ["10.20.30.40"]) as client:
        assert {_lookup(client, f"203.0.113.{n}") for n in range(LIMIT)} == {404}
        assert _lookup(client, "198.51.100.20") == 429  # a made-up header does not buy new lookups
