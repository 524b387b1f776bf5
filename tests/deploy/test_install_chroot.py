"""scripts/install.sh run as root inside a clean Debian 12 chroot (debootstrap from the machine's
own mirror) as docs/install.md says: the gateway, started as the installed unit starts it, answers
/healthz, also after a second run upgraded the previous release's data in place. scripts/test.sh
runs this file in the background, beside the rest of the suite (it waits on the network)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import previous
from tests.deploy.unitfile import environment_file, unit_keys

REPO = Path(__file__).resolve().parents[2]
# Git-ignored: the base system and the downloaded .deb files, so a second run on the same checkout
# does not fetch them again; a fresh clone makes them itself. pip's cache is bound in too, but on
# this machine's network pip stores nothing in it (measured: empty after two installs).
CACHE = REPO / ".cache" / "install-chroot"
SRC_IN_CHROOT = "/usr/local/src/sistem48"  # where docs/install.md clones the repository
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _apt_mirror() -> str:
    """The Debian mirror this machine's apt uses: the chroot needs no other address."""
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in (f for f in files if f.is_file()):
        if path.suffix == ".sources":
            for stanza in path.read_text().split("\n\n"):
                fields = dict(
                    line.split(":", 1)
                    for line in stanza.splitlines()
                    if ":" in line and not line.startswith("#")
                )
                suites = fields.get("Suites", "").split()
                if "bookworm" in suites and "main" in fields.get("Components", "").split():
                    return fields["URIs"].split()[0]
        else:
            for line in path.read_text().splitlines():
                words = [
                    w for w in line.split("#")[0].split() if not w.startswith("[") and not w.endswith("]")
                ]
                if words[:1] == ["deb"] and len(words) >= 4 and words[2] == "bookworm":
                    return words[1]
    pytest.fail("no Debian bookworm mirror in /etc/apt/sources.list*")


def _base_tarball() -> Path:
    """A bare Debian 12 (minbase with systemd, as a server has it), made once per checkout."""
    tarball = CACHE / "bookworm-minbase.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / "debootstrap"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=systemd", "bookworm", str(work), _apt_mirror()],
        check=True, capture_output=True, timeout=1200,
    )  # fmt: skip
    subprocess.run(["tar", "--numeric-owner", "-cpf", f"{tarball}.part", "-C", str(work), "."], check=True)
    os.replace(f"{tarball}.part", tarball)
    shutil.rmtree(work)
    return tarball


def _network_settings(root: Path) -> None:
    """What the server's administrator sets up for this network before installing: the name
    server, and where HTTPS goes through an inspecting proxy, its CA (installed by the
    ca-certificates package install.sh pulls in) and pip's `cert` setting in /etc/pip.conf."""
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    local_cas = root / "usr/local/share/ca-certificates"
    local_cas.mkdir(parents=True, exist_ok=True)
    for ca in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(ca, local_cas / ca.name)
    if Path("/etc/pip.conf").exists():
        shutil.copy("/etc/pip.conf", root / "etc/pip.conf")
    if (root / "usr/sbin/update-ca-certificates").exists():  # else its package's install runs it
        subprocess.run(["chroot", str(root), "update-ca-certificates"], check=True, capture_output=True)


def _mounted_under(root: Path) -> list[str]:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [p for p in points if p == str(root) or p.startswith(f"{root}/")]


@contextlib.contextmanager
def _mounts(root: Path) -> Iterator[None]:
    """Fresh proc, pts and shm instances (nothing of the host's /dev is bound in, so deleting the
    tree can never reach it) and the two download caches; always unmounted, innermost first."""
    (CACHE / "apt").mkdir(parents=True, exist_ok=True)
    (CACHE / "pip").mkdir(parents=True, exist_ok=True)
    (root / "root/.cache/pip").mkdir(parents=True, exist_ok=True)
    plan = [
        (["-t", "proc", "proc"], root / "proc"),
        (["-t", "devpts", "-o", "newinstance,ptmxmode=0666", "devpts"], root / "dev/pts"),
        (["-t", "tmpfs", "tmpfs"], root / "dev/shm"),
        (["--bind", str(CACHE / "apt")], root / "var/cache/apt/archives"),
        (["--bind", str(CACHE / "pip")], root / "root/.cache/pip"),
    ]
    done: list[Path] = []
    try:
        for args, target in plan:
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", *args, str(target)], check=True)
            done.append(target)
        yield
    finally:
        for target in reversed(done):
            if subprocess.run(["umount", str(target)], check=False).returncode != 0:
                subprocess.run(["umount", "--lazy", str(target)], check=False)
        assert _mounted_under(root) == [], "left mounted"


def _in_chroot(root: Path, script: str, timeout: float = 1800) -> str:
    """A root login's shell (sudo -i): clean environment, the commands of the guide."""
    done = subprocess.run(
        ["chroot", str(root), "/usr/bin/env", "-i", f"PATH={ROOT_PATH}", "HOME=/root", "LANG=C.UTF-8",
         "bash", "-c", f"set -e; {script}"],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]
    return done.stdout


def _copy_repository(root: Path) -> None:
    """The checkout as `git clone` gives it: the tracked files, as they are on disk now."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    present = b"\0".join(f for f in files.split(b"\0") if f and (REPO / f.decode()).exists())
    target = root / SRC_IN_CHROOT.lstrip("/")
    target.mkdir(parents=True)
    pack = subprocess.Popen(["tar", "--null", "-T", "-", "-cf", "-"], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)  # fmt: skip
    unpack = subprocess.Popen(["tar", "-xf", "-", "-C", str(target)], stdin=pack.stdout)
    assert pack.stdin is not None and pack.stdout is not None
    pack.stdin.write(present)
    pack.stdin.close()
    pack.stdout.close()
    assert (unpack.wait(60), pack.wait(60)) == (0, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_like_the_unit(root: Path) -> subprocess.Popen[bytes]:
    """The installed sistem48.service's User, Group, SupplementaryGroups, EnvironmentFile,
    Environment, WorkingDirectory and ExecStart, inside the chroot (systemd does not run there)."""
    unit = unit_keys(root / "etc/systemd/system/sistem48.service")
    env = {"PATH": ROOT_PATH, "LANG": "C.UTF-8"}
    for file in unit.get("EnvironmentFile", []):
        env.update(environment_file(root / file.lstrip("-/")))
    for assignment in unit.get("Environment", []):
        for word in shlex.split(assignment):
            key, _, value = word.partition("=")
            env[key] = value
    groups = ",".join(" ".join(unit.get("SupplementaryGroups", [])).split()) or None
    user = ["setpriv", f"--reuid={unit['User'][0]}", f"--regid={unit['Group'][0]}"]
    user += [f"--groups={groups}"] if groups else ["--clear-groups"]
    argv = ["chroot", str(root), *user, "env", "-i", "-C", unit["WorkingDirectory"][0]]
    argv += [f"{k}={v}" for k, v in env.items()] + shlex.split(unit["ExecStart"][0])
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _healthz(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> dict[str, object]:
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


def _healthz_of_the_unit(root: Path, port: int) -> dict[str, object]:
    proc = _start_like_the_unit(root)
    try:
        return _healthz(port, proc)
    finally:
        proc.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        # uvicorn re-raises SIGTERM after its shutdown, which systemd counts as a clean stop
        assert code in (0, -signal.SIGTERM), proc.stdout.read().decode() if proc.stdout else code


@pytest.mark.timeout(2400)  # two installs over the network: about 8 minutes with nothing cached
def test_install_in_a_clean_debian_chroot_serves_healthz_and_upgrades_in_place(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.fail("needs root and debootstrap (scripts/bootstrap.sh test installs it)")
    times: dict[str, float] = {}
    started = time.monotonic()
    root = tmp_path / "bookworm"
    root.mkdir()
    subprocess.run(["tar", "--numeric-owner", "-xpf", str(_base_tarball()), "-C", str(root)], check=True)
    _network_settings(root)
    _copy_repository(root)
    times["debian 12 root"] = time.monotonic() - started
    try:
        with _mounts(root):
            mark = time.monotonic()
            first = _in_chroot(root, f"cd {SRC_IN_CHROOT} && scripts/install.sh")
            times["first install"] = time.monotonic() - mark
            assert "[8/8] systemd units" in first and "first install: nothing to back up" in first
            assert "systemd is not running here (chroot or container)" in first
            wants = root / "etc/systemd/system/multi-user.target.wants/sistem48.service"
            assert os.readlink(wants) == "/etc/systemd/system/sistem48.service"  # enabled, offline
            ok = _in_chroot(root, "/opt/sistem48/venv/bin/sistem48 check-config /etc/sistem48/config.toml")
            assert ok.startswith("ok: /etc/sistem48/config.toml\n")
            held = "/etc/sistem48/secrets.env /var/lib/sistem48 /var/lib/sistem48/sistem48.db"
            modes = _in_chroot(root, f"stat -c '%a %U' {held}").split()
            # The database holds citizens' data: readable by the service's group at most.
            assert modes == ["600", "root", "750", "sistem48", "640", "sistem48"]
            assert "dialout" in _in_chroot(root, "id -nG sistem48").split()

            port = _free_port()  # the administrator's edit: this machine may already serve 8048
            config = root / "etc/sistem48/config.toml"
            config.write_text(config.read_text().replace("port = 8048", f"port = {port}"))
            health = _healthz_of_the_unit(root, port)
            assert (health["status"], health["database"]) == (200, "up")

            # The upgrade starts from the previous release's data, owned as the service owns it.
            data = root / "var/lib/sistem48"
            shutil.copy(previous.FIXTURE / "data/sistem48.db", data / "sistem48.db")
            shutil.copytree(previous.FIXTURE / "data/blobs", data / "blobs", dirs_exist_ok=True)
            _in_chroot(root, "chown -R sistem48:sistem48 /var/lib/sistem48")
            first_release = os.readlink(root / "opt/sistem48/venv")
            time.sleep(1.1)  # release folders are named to the second
            mark = time.monotonic()
            again = _in_chroot(root, f"cd {SRC_IN_CHROOT} && scripts/install.sh")
            times["upgrade in place"] = time.monotonic() - mark
            assert (
                "kept /etc/sistem48/config.toml" in again
                and "backup in /var/backups/sistem48/pre-upgrade-" in again
            )
            assert (root / "opt/sistem48/previous-release").read_text().strip() == first_release
            assert os.readlink(root / "opt/sistem48/venv") != first_release
            previous.assert_upgraded_after_a_backup(root, f"sqlite:///{data}/sistem48.db", "database.sqlite3")
            assert _healthz_of_the_unit(root, port)["status"] == 200
    finally:
        times["total"] = time.monotonic() - started
        print("chroot install timings:", ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
        if not _mounted_under(root):
            shutil.rmtree(root, ignore_errors=True)
