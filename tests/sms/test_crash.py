"""A gateway killed with SIGKILL mid-round loses no SMS and creates no duplicate contact."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sms.simulator import inbox_files, inject_incoming

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Ne radi ulična rasveta, Šabac.",
    "Пријава: квар водовода у улици Његошевој 12, молим хитну интервенцију. " * 2,
    "Kontejner pun " * 20,
    "Рупа на путу.",
]


def worker(modem_dir: Path, journal: Path, point: str, n: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.sms.crash_worker", str(modem_dir), str(journal), point, str(n)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(("point", "n"), [("delete", 1), ("delete", 3), ("ingest", 2)])
def test_sigkill_between_ingest_and_delete_loses_nothing_and_duplicates_nothing(
    modem_dir: Path, tmp_path: Path, point: str, n: int
) -> None:
    journal = tmp_path / "inbox.jsonl"
    for i, text in enumerate(TEXTS):
        inject_incoming(modem_dir, f"+38164100000{i}", text)

    crashed = worker(modem_dir, journal, point, n)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    committed = journal.read_text().splitlines() if journal.exists() else []
    # A poll hands all ready SMS to the core together (group commit), then deletes them one by
    # one; deletes happen only after the core committed: what was not journaled is still on the SIM.
    if point == "delete":
        assert len(committed) == len(TEXTS)
    else:
        assert len(committed) <= n - 1
    assert inbox_files(modem_dir)

    clean = worker(modem_dir, journal, "none", 0)
    assert clean.returncode == 0, clean.stderr
    contacts = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted(c["body"] for c in contacts) == sorted(TEXTS)
    assert len({c["external_id"] for c in contacts}) == len(TEXTS)
    ingested_now, new, duplicates = map(int, clean.stdout.split())
    assert new == len(TEXTS) - len(committed)
    # every committed message whose delete did not happen comes back as a duplicate
    assert duplicates == (len(TEXTS) - (n - 1) if point == "delete" else len(committed))
    assert ingested_now == new + duplicates
    assert inbox_files(modem_dir) == []
