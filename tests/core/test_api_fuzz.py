"""schemathesis against the running API's OpenAPI document: generated requests for every operation
(REST, review API, Open311) with an admin token; no response may be a 5xx."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.app import create_app
from gateway.auth import create_token
from storage.db import session_scope
from tests.core.helpers import mail, sms

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_generated_request_gets_a_server_error(gateway: Any, tmp_path: Path) -> None:
    gateway.config.sms.enabled = gateway.config.mail.enabled = True
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Ne radi sijalica u ulici"))
    gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Pukla cev, voda curi"))
    with session_scope(gateway.engine, write=True) as s:
        token = create_token(s, name="fuzz", role="admin")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(gateway.config, gateway=gateway), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        run = subprocess.run(
            [SCHEMATHESIS, "run", f"http://127.0.0.1:{port}/openapi.json",
             "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
             "--max-examples", "15", "--seed", "48", "--workers", "1"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(10)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "passed" in run.stdout and "API Operations" in run.stdout
