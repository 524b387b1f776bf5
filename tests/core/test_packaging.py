"""The wheel: built without setuptools warnings, installed (not editable) into a fresh virtualenv, it
runs `sistem48 check-config` and `sistem48 run` far from the checkout, with its templates, static
files, sounds, migrations and embedded config."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

PACKAGED = (
    "gateway/defaults/config.example.toml",
    "gateway/defaults/streets.example.csv",  # the example street register the defaults use
    "gateway/defaults/citizen_export.html",
    "gateway/web/templates/base.html",
    "gateway/web/static/app.css",
    "voicemail/sounds/beep.wav",
    "storage/migrations/script.py.mako",
    "storage/migrations/env.py",
    "storage/migrations/versions/0001_initial_schema.py",
)


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _wheel(out: Path) -> Path:
    # From a copy: an in-tree build would write build/ and *.egg-info into the checkout, and a stale
    # build/lib could smuggle deleted modules into the wheel.
    source = out.parent / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "var",
    ))  # fmt: skip
    # No build isolation: the build uses this venv's setuptools instead of downloading one.
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    log = built.stdout + built.stderr
    assert built.returncode == 0, log[-3000:]
    for complaint in ("absent from the `packages` configuration", "SetuptoolsDeprecationWarning",
                      "Package would be ignored", "SetuptoolsWarning"):  # fmt: skip
        assert complaint not in log
    [wheel] = out.glob("sistem48-*.whl")
    return wheel


def test_the_wheel_installs_into_a_fresh_venv_and_runs_away_from_the_checkout(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGED) <= names
    assert not [n for n in names if n.startswith(("tests/", "fuzz/", "scripts/")) or "__pycache__" in n]

    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    # The dependencies come from this test venv (no downloads); only as plain paths, so its
    # editable install of the checkout (a .pth hook) is not seen by the new venv.
    site = Path(subprocess.check_output(
        [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True,
    ).strip())  # fmt: skip
    (site / "sistem48_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip

    away = tmp_path / "elsewhere"
    away.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.check_output(
        [str(env / "bin" / "python"), "-c", "import gateway, voicemail; print(gateway.__file__)"],
        cwd=away, text=True, env=clean_env,
    )  # fmt: skip
    assert where.startswith(str(site)), where

    sistem48 = str(env / "bin" / "sistem48")
    check = subprocess.run(
        [sistem48, "check-config"], cwd=away, capture_output=True, text=True, env=clean_env, timeout=120
    )
    assert check.returncode == 0, check.stderr
    assert "ok: embedded defaults" in check.stdout and "ack_mms" in check.stdout

    http, smtp, sip = _free_port(), _free_port(), _free_port(socket.SOCK_DGRAM)
    config = away / "site" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        f"[http]\nport = {http}\n[mail]\nlisten_port = {smtp}\n[sms]\ndevice = 'var/modem'\n"
        f"[sip]\nbind_port = {sip}\nrtp_port_low = 31000\nrtp_port_high = 31100\n"
        "[transcription]\nenabled = false\n"
    )
    proc = subprocess.Popen(
        [sistem48, "run", "--config", str(config)], cwd=away, env=clean_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, health = _get(f"http://127.0.0.1:{http}/healthz")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, proc.stdout.read() if proc.stdout and proc.poll() is not None else ""
        assert b'"sms"' in health and b'"mail"' in health and b'"sip"' in health
        status, page = _get(f"http://127.0.0.1:{http}/login")
        assert status == 200 and b"<form" in page  # a template from the wheel
        status, css = _get(f"http://127.0.0.1:{http}/static/app.css")
        assert status == 200 and css  # a static file from the wheel
        with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
            assert client.noop()[0] == 250
        assert (config.parent / "var" / "sistem48.db").exists()  # migrations ran, next to the config
        assert not (away / "var").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
