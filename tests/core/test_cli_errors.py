"""The installed `sistem48` command on bad input: one line on stderr and a non-zero exit, never a
traceback; a utility added on the catalogue page is accepted by `token create`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app import build_gateway
from gateway.config import load_config

SISTEM48 = str(Path(sys.executable).with_name("sistem48"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SISTEM48, *args], capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def cfg_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[gateway]\ndata_dir = '{tmp_path / 'var'}'\n[database]\nurl = '{db_url}'\n"
        "[mail]\nenabled = false\n[sms]\nenabled = false\n[sip]\nenabled = false\n"
        "[transcription]\nenabled = false\n"
    )
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["inject", "mail", "/nonexistent/mail.eml"],
        ["backup", "/proc/no/such/place"],
        ["transcribe", "--ticket", "S48-2026-999999"],
        ["token", "create", "--role", "utility", "--utility", "nema_je"],
    ],
)
def test_bad_input_is_one_line_and_no_traceback(cfg_file: Path, args: list[str]) -> None:
    done = run(*args, "--config", str(cfg_file))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error"), done.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "pg.toml"
    cfg.write_text("[database]\nurl = 'postgresql+psycopg://postgres@127.0.0.1:1/nowhere'\n")
    done = run("token", "create", "--role", "operator", "--config", str(cfg))
    assert done.returncode == 1 and done.stderr.startswith("error: OperationalError:")
    assert len(done.stderr.strip().splitlines()) == 1
    shown = run(
        "token",
        "create",
        "--role",
        "operator",
        "--config",
        str(cfg),
        env={**os.environ, "SISTEM48_TRACEBACK": "1"},
    )
    assert "Traceback" in shown.stderr or "╭" in shown.stderr  # for whoever debugs it


def test_token_create_knows_a_utility_added_on_the_catalogue_page(cfg_file: Path) -> None:
    gw = build_gateway(load_config(cfg_file), roles=set())
    try:
        gw.catalogue.save_utility(
            "admin",
            code="mostovi",
            name="Mostovi",
            emails=["mostovi@grad.example.rs"],
            escalation_emails=[],
            new=True,
        )
    finally:
        gw.engine.dispose()
    done = run("token", "create", "--role", "utility", "--utility", "mostovi", "--config", str(cfg_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("s48_")
