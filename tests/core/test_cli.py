"""The sistem48 command line, run in-process against a real database and config file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.cli import app
from gateway.config import load_config
from storage.db import make_engine, session_scope
from storage.models import ApiToken, StaffUser, Ticket

runner = CliRunner()


@pytest.fixture
def cfg_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[gateway]\ndata_dir = '{tmp_path / 'var'}'\n[database]\nurl = '{db_url}'\n"
        "[mail]\nenabled = false\n[sms]\nenabled = false\n[sip]\nenabled = false\n"
        "[transcription]\nenabled = false\n"
    )
    return path


def test_check_config_reports_catalogue_and_sms_part_counts(cfg_file: Path) -> None:
    result = runner.invoke(app, ["check-config", str(cfg_file)])
    assert result.exit_code == 0, result.output
    assert "utilities" in result.output and "categories" in result.output
    assert "ack" in result.output and "(gsm7)" in result.output and "(ucs2)" in result.output


def test_check_config_rejects_a_bad_key_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nprot = 1\n")
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert "http.prot: unknown key" in result.output


def test_check_config_fails_when_url_env_is_named_but_not_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pg.toml"
    path.write_text("[database]\nurl_env = 'SISTEM48_TEST_UNSET_URL'\n")
    monkeypatch.delenv("SISTEM48_TEST_UNSET_URL", raising=False)
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 2
    assert "url_env SISTEM48_TEST_UNSET_URL is set in the config but not in the environment" in result.output
    monkeypatch.setenv("SISTEM48_TEST_UNSET_URL", "postgresql+psycopg://u@127.0.0.1/x")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "127.0.0.1/x" in result.output


def test_token_and_user_are_stored_hashed(cfg_file: Path, db_url: str) -> None:
    result = runner.invoke(
        app, ["token", "create", "--role", "utility", "--utility", "vodovod", "--config", str(cfg_file)]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("s48_")
    result = runner.invoke(
        app,
        ["user", "add", "ana", "--role", "operator", "--config", str(cfg_file)],
        env={"SISTEM48_NEW_PASSWORD": "dugacka-lozinka-1"},
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        assert token not in {t.token_hash for t in s.exec(select(ApiToken)).all()}
        user = s.exec(select(StaffUser)).one()
        assert user.password_hash.startswith("$argon2")
    engine.dispose()


def test_unknown_utility_is_refused(cfg_file: Path) -> None:
    result = runner.invoke(
        app, ["token", "create", "--role", "utility", "--utility", "nope", "--config", str(cfg_file)]
    )
    assert result.exit_code == 2 and "unknown utility" in result.output


def test_inject_sms_goes_through_the_inbox(cfg_file: Path, db_url: str) -> None:
    result = runner.invoke(
        app, ["inject", "sms", "0641234567", "Ne radi sijalica", "--config", str(cfg_file)]
    )
    assert result.exit_code == 0, result.output
    assert "new ticket S48-" in result.output
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        ticket: Any = s.exec(select(Ticket)).one()
        assert ticket.channel == "sms" and ticket.suggested_category == "javna_rasveta"
    engine.dispose()


def test_a_command_run_from_another_directory_uses_the_gateways_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    config_path = site / "config.toml"
    config_path.write_text(
        "[gateway]\ndata_dir = 'var'\n[database]\nurl = 'sqlite:///var/sistem48.db'\n"
        "[mail]\nenabled = false\n[sms]\nenabled = false\ndevice = 'var/modem'\n[sip]\nenabled = false\n"
        "[transcription]\nenabled = false\n"
    )
    sistem48 = Path(sys.executable).parent / "sistem48"
    done = subprocess.run(
        [str(sistem48), "token", "create", "--role", "operator", "--config", str(config_path)],
        cwd=elsewhere, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert (site / "var" / "sistem48.db").exists()
    assert not list(elsewhere.iterdir()), "nothing may be created where the command was run"

    monkeypatch.chdir(tmp_path)  # the gateway's own working directory is yet another one
    config = load_config(config_path)
    assert config.sms.device == str(site / "var" / "modem")
    with TestClient(create_app(config)) as client:
        r = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert not (tmp_path / "var").exists()


def test_adding_an_existing_user_again_is_one_line_not_a_traceback(cfg_file: Path) -> None:
    args = ["user", "add", "ana", "--role", "operator", "--config", str(cfg_file)]
    env = {"SISTEM48_NEW_PASSWORD": "dugacka-lozinka-1"}
    assert runner.invoke(app, args, env=env).exit_code == 0
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 2 and again.exception is not None and isinstance(again.exception, SystemExit)
    assert again.output.strip() == "error: a user 'ana' already exists"
