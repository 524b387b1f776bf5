"""Fuzz every target for a fixed time budget; exit 1 if any crashed, timed out or ran out of memory.

    .venv/bin/python fuzz/run.py --seconds 15 [--targets mail_parse,sms_codec] [--jobs 2] [--corpus DIR]

Crashing inputs are saved as fuzz/crashes/<target>-crash-<sha1> (or -timeout-, -oom-) together with
the target's log; replay one with `python -m fuzz.<target> fuzz/crashes/<file>`. Once fixed, move it
to fuzz/regressions/<target>/<what-it-was>: it becomes a seed and a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import seeds

ROOT = Path(__file__).resolve().parents[1]
CRASHES = ROOT / "fuzz" / "crashes"
# Longest input per target: a mail head with its first parts, a few PDUs, a line of text.
MAX_LEN = {"mail_parse": 65536, "mail_text": 16384, "sms_codec": 2048, "keywords": 512}
_ARTIFACT = re.compile(r"(crash|timeout|oom|leak|slow-unit)-[0-9a-f]+$")


@dataclass
class Outcome:
    target: str
    returncode: int
    runs: int
    artifacts: list[Path]
    log: str

    @property
    def failed(self) -> bool:
        return self.returncode != 0 or bool(self.artifacts)


@dataclass(frozen=True)
class Budget:
    seconds: int
    input_timeout: int
    rss_mb: int


def fuzz(target: str, budget: Budget, corpus_root: Path, crashes: Path) -> Outcome:
    corpus = corpus_root / target
    seed_dir = corpus_root / f"{target}.seeds"
    seeds.write(target, seed_dir)
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    command = [
        sys.executable, "-m", f"fuzz.{target}",
        f"-max_total_time={budget.seconds}", f"-max_len={MAX_LEN[target]}",
        f"-timeout={budget.input_timeout}", f"-rss_limit_mb={budget.rss_mb}",
        f"-artifact_prefix={crashes}/{target}-", "-print_final_stats=1",
        str(corpus), str(seed_dir),
    ]  # fmt: skip
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=python_path)
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace",
            timeout=budget.seconds + budget.input_timeout + 120,
        )  # fmt: skip
        returncode, log = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        err = exc.stderr or b""
        as_text = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in (out, err)]
        returncode, log = -9, "".join(as_text) + "\n[run.py] killed: the target overran its budget\n"
    # Targets may run side by side: only this target's prefix is its own.
    new = set(crashes.iterdir()) - before
    artifacts = sorted(p for p in new if p.name.startswith(f"{target}-") and _ARTIFACT.search(p.name))
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    outcome = Outcome(target, returncode, int(runs[-1]) if runs else 0, artifacts, log)
    if outcome.failed:
        (crashes / f"{target}.log").write_text(log)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, required=True, help="budget per target")
    parser.add_argument("--targets", default=",".join(seeds.SEEDS), help="comma-separated target names")
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at the same time")
    parser.add_argument("--corpus", type=Path, help="keep the grown corpus here (default: a temp dir)")
    parser.add_argument("--input-timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory limit per target process")
    parser.add_argument("--crashes", type=Path, default=CRASHES, help="where crashing inputs are saved")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in seeds.SEEDS]
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)} (known: {', '.join(seeds.SEEDS)})")
    budget = Budget(args.seconds, args.input_timeout, args.rss_mb)
    temp = None
    if args.corpus is None:
        temp = tempfile.mkdtemp(prefix="sistem48-fuzz-")
    corpus_root = args.corpus or Path(str(temp))
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(
                pool.map(
                    lambda t: fuzz(t, budget, corpus_root, args.crashes),
                    targets,
                )
            )
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    for o in outcomes:
        verdict = "FAILED" if o.failed else "ok"
        print(f"{o.target}: {verdict} ({o.runs} inputs, exit {o.returncode})")
        for artifact in o.artifacts:
            print(f"  saved {artifact}")
        if o.failed:
            tail = "\n".join(o.log.splitlines()[-40:])
            print(f"  log: {args.crashes / f'{o.target}.log'}\n{tail}")
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
