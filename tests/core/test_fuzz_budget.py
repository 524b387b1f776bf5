"""The atheris fuzz targets run for a small time budget without findings, and every input the fuzzer
once failed on (fuzz/regressions/) stays fixed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import gammu
import pytest

from fuzz.checks import storable_contact, storable_text
from fuzz.seeds import SEEDS, regressions
from mail.intake import contact_from_bytes
from sms import codec

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECONDS_PER_TARGET = 12
needs_atheris = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install -e '.[test]'; it has wheels for CPython 3.11 on Linux)",
)


@needs_atheris
def test_every_fuzz_target_runs_its_budget_without_findings(tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    command = [
        sys.executable, str(ROOT / "fuzz" / "run.py"), "--seconds", str(SECONDS_PER_TARGET), "--jobs", "2",
        "--corpus", str(tmp_path / "corpus"), "--crashes", str(crashes),
    ]  # fmt: skip
    # Four targets, two at a time: about 2 x (budget + start-up) on two cores.
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=85)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    for target in SEEDS:
        assert f"{target}: ok" in done.stdout
    assert not [p for p in crashes.iterdir() if not p.name.endswith(".log")]


@needs_atheris
@pytest.mark.parametrize("target", [t for t in sorted(SEEDS) if regressions(t)])
def test_fuzz_regressions_pass_their_target(target: str) -> None:
    # libFuzzer given files runs each once; a subprocess, as one of them once hung libgammu.
    files = [str(p) for p in regressions(target)]
    command = [sys.executable, "-m", f"fuzz.{target}", "-timeout=20", *files]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]


def test_mail_part_holding_real_non_ascii_text_is_walked_without_a_defect() -> None:
    [path] = [p for p in regressions("mail_parse") if p.name == "multipart-payload-with-real-non-ascii-text"]
    contact = contact_from_bytes(path.read_bytes(), received_at=NOW, mail_from="pera@example.rs")
    assert not [d for d in contact.meta.get("defects", "").split(",") if d.startswith("part ")]
    storable_contact(contact)


def test_sms_pdu_dump_of_a_text_with_nul_reads_back_as_the_stored_text() -> None:
    [path] = [p for p in regressions("sms_codec") if p.name == "ucs2-text-with-nul-cut-the-pdu-dump"]
    data = path.read_bytes()
    # The record's first PDU (flags, length, bytes) as fuzz/sms_codec.py frames it.
    raw = gammu.DecodePDU(data[2 : 2 + data[1]], SMSC=bool(data[0] & 1))
    raw.update(Location=1, Folder=1, InboxFolder=1)
    assert "\x00" in raw["Text"]
    part = codec.to_part(raw)
    storable_text(part.text, "part text")
    again = gammu.DecodePDU(bytes.fromhex(codec.pdu_dump(part).decode("ascii")), SMSC=True)
    assert again["Text"] == part.text
