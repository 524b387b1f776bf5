"""scripts/install.sh into a temporary root (--root): the layout, the units passing
`systemd-analyze verify`, the gateway started the way its unit starts it answering /healthz, and a
second run upgrading the previous release's database (SQLite, PostgreSQL) after a backup."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, PG_ADMIN_URL
from tests.deploy import previous
from tests.deploy.previous import assert_upgraded_after_a_backup

REPO = Path(__file__).resolve().parents[2]
UNITS = [
    "sistem48.service",
    "sistem48-transcribe@.service",
    "sistem48-backup.service",
    "sistem48-backup.timer",
    "sistem48-healthmail.service",
    "sistem48-healthmail.timer",
]


def _python_with_dev_dependencies(tmp_path: Path) -> Path:
    """The `python3` install.sh is given: `-m venv DIR` makes a venv that sees this checkout's
    third-party packages, so pip installs only Sistem48 itself (--pip-args --no-deps). A full
    dependency resolution from the package index takes many minutes here; the rest is the script's."""
    site = sysconfig.get_paths()["purelib"]
    wrapper = tmp_path / "python3"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
        f'  {sys.executable} -m venv "$3" || exit 1\n'
        '  purelib=$("$3/bin/python" -c \'import sysconfig; print(sysconfig.get_paths()["purelib"])\')\n'
        f'  echo {site} > "$purelib/_deps.pth"\n'
        "  exit 0\n"
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def _install(root: Path, python: Path) -> str:
    done = subprocess.run(
        [str(REPO / "scripts" / "install.sh"), "--root", str(root), "--python", str(python),
         "--pip-args", "--no-deps"],
        capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _unit(root: Path, name: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in (root / "etc/systemd/system" / name).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_like_the_unit(root: Path, port: int) -> subprocess.Popen[bytes]:
    """ExecStart, WorkingDirectory and EnvironmentFile of the installed unit, paths under `root`."""
    unit = _unit(root, "sistem48.service")
    env = {"PATH": os.environ["PATH"]}
    for line in (root / unit["EnvironmentFile"][0].lstrip("/")).read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    for assignment in unit.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = value
    argv = [str(root / a.lstrip("/")) if a.startswith("/") else a for a in shlex.split(unit["ExecStart"][0])]
    config = root / "etc/sistem48/config.toml"
    config.write_text(config.read_text().replace("port = 8048", f"port = {port}"))
    return subprocess.Popen(
        argv, cwd=root / unit["WorkingDirectory"][0].lstrip("/"), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _healthz(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the gateway exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return dict(json.loads(response.read()), status=response.status)
        except OSError:
            time.sleep(0.5)
    raise AssertionError("no /healthz answer")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """0 for a clean stop: uvicorn shuts down, then re-raises SIGTERM, which systemd counts as clean."""
    proc.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
    code = proc.wait(30)
    return 0 if code == -signal.SIGTERM else code


@pytest.fixture
def postgres_server() -> str:
    """The test server as psql takes it (libpq URL without a database)."""
    if "postgresql" not in BACKENDS:
        pytest.skip("SISTEM48_TEST_DATABASES leaves PostgreSQL out")
    return PG_ADMIN_URL.replace("+psycopg", "").rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("install")
    root = tmp / "root"
    python = _python_with_dev_dependencies(tmp)
    return root, python, _install(root, python)


def test_install_lays_out_config_secrets_data_release_and_units(installed: tuple[Path, Path, str]) -> None:
    root, _, out = installed
    assert "[8/8] systemd units" in out
    secrets = root / "etc/sistem48/secrets.env"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert len(secrets.read_text().split("SISTEM48_SECRET=")[1].split()[0]) == 64
    assert stat.S_IMODE((root / "etc/sistem48/config.toml").stat().st_mode) == 0o640
    assert f'data_dir = "{root}/var/lib/sistem48"' in (root / "etc/sistem48/config.toml").read_text()
    # the installed config's header names where every key is documented: it must be there
    assert "/opt/sistem48/share/config.example.toml" in (root / "etc/sistem48/config.toml").read_text()
    assert (root / "opt/sistem48/share/config.example.toml").is_file()
    venv = root / "opt/sistem48/venv"
    assert venv.is_symlink() and os.readlink(venv).startswith("releases/0.1.0-")
    assert (venv / "bin/sistem48").exists()
    for name in UNITS:
        assert (root / "etc/systemd/system" / name).exists()


def test_units_pass_systemd_analyze_verify(installed: tuple[Path, Path, str]) -> None:
    root = installed[0]
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt install systemd")
    # verify --root resolves Wants=/After= against the root's own unit folders and checks that each
    # ExecStart exists there: give it the distribution's units and a shell.
    shutil.copytree(
        "/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True
    )
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy("/bin/sh", root / "bin/sh")
    units = [str(root / "etc/systemd/system" / u) for u in UNITS]
    done = subprocess.run(
        ["systemd-analyze", f"--root={root}", "verify", *units], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_units_hold_the_hardening_and_the_modem_is_the_only_device(installed: tuple[Path, Path, str]) -> None:
    gateway = _unit(installed[0], "sistem48.service")
    wanted = [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("Restart", "on-failure"),
        ("DevicePolicy", "closed"),
        ("StandardOutput", "journal"),
    ]
    for key, value in wanted:
        assert gateway[key] == [value], key
    assert gateway["DeviceAllow"] == ["/dev/sistem48-modem rw"]
    assert "transcribe" not in gateway["ExecStart"][0].split("--only")[1]
    worker = _unit(installed[0], "sistem48-transcribe@.service")
    assert worker["PrivateDevices"] == ["yes"] and "worker --transcribe" in worker["ExecStart"][0]


def test_gateway_started_like_the_unit_answers_healthz_and_rerun_upgrades_after_a_backup(
    installed: tuple[Path, Path, str],
) -> None:
    root, python, _ = installed
    port = _free_port()
    proc = _start_like_the_unit(root, port)
    try:
        health = _healthz(port, proc)
    finally:
        assert _stop(proc) == 0
    assert health["status"] == 200 and health["database"] == "up"

    # The previous release's data (tests/deploy/previous_release/README.md) in place of the new one.
    data = root / "var/lib/sistem48"
    (data / "sistem48.db").unlink()
    shutil.copy(previous.FIXTURE / "data/sistem48.db", data / "sistem48.db")
    shutil.copytree(previous.FIXTURE / "data/blobs", data / "blobs", dirs_exist_ok=True)
    db_url = f"sqlite:///{data}/sistem48.db"
    config = root / "etc/sistem48/config.toml"
    _upgrade_and_check(root, python, db_url, "database.sqlite3")
    assert f"port = {port}" in config.read_text()  # the administrator's edits survive

    proc = _start_like_the_unit(root, port)
    try:
        assert _healthz(port, proc)["status"] == 200
    finally:
        assert _stop(proc) == 0


def test_rerun_upgrades_the_previous_releases_postgresql_database_after_a_backup(
    tmp_path: Path, postgres_server: str
) -> None:
    """docs/install.md's PostgreSQL set-up (url_env, the URL in secrets.env), loaded with the
    previous release's dump, then upgraded by a second run."""
    root = tmp_path / "root"
    python = _python_with_dev_dependencies(tmp_path)
    _install(root, python)
    name = f"sistem48_prev_{uuid.uuid4().hex[:10]}"
    subprocess.run(
        ["psql", "-q", f"{postgres_server}/postgres", "-c", f'CREATE DATABASE "{name}"'], check=True
    )
    try:
        dump = previous.FIXTURE / "postgresql.sql"
        load = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), f"{postgres_server}/{name}"]
        subprocess.run(load, check=True, capture_output=True)
        shutil.copytree(previous.FIXTURE / "data/blobs", root / "var/lib/sistem48/blobs", dirs_exist_ok=True)
        db_url = f"postgresql+psycopg://{postgres_server.split('://', 1)[1]}/{name}"
        config = root / "etc/sistem48/config.toml"
        config.write_text(
            config.read_text().replace(
                '# url_env = "SISTEM48_DATABASE_URL"', 'url_env = "SISTEM48_DATABASE_URL"'
            )
        )
        with (root / "etc/sistem48/secrets.env").open("a") as secrets:
            secrets.write(f"SISTEM48_DATABASE_URL={db_url}\n")
        _upgrade_and_check(root, python, db_url, "database.pgdump")
        port = _free_port()
        proc = _start_like_the_unit(root, port)
        try:
            assert _healthz(port, proc)["database"] == "up"
        finally:
            assert _stop(proc) == 0
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        subprocess.run(["psql", "-q", f"{postgres_server}/postgres", "-c", drop], check=True)


def _upgrade_and_check(root: Path, python: Path, db_url: str, dump: str) -> None:
    """A second install.sh run backs up first (the backup holds the old schema), migrates to this
    release's head, keeps the tickets, messages and attachments, and switches the release."""
    first = os.readlink(root / "opt/sistem48/venv")
    time.sleep(1.1)  # release folders are named to the second
    out = _install(root, python)
    assert "kept" in out and "backup in" in out
    assert_upgraded_after_a_backup(root, db_url, dump)
    assert (root / "opt/sistem48/previous-release").read_text().strip() == first
    assert os.readlink(root / "opt/sistem48/venv") != first
