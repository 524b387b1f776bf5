"""The Prometheus examples in deploy/prometheus: promtool accepts the rules and the scrape config, and
every sistem48_* metric the rules use is one the gateway's /metrics serves."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from gateway.app import build_gateway, create_app
from tests.conftest import make_config

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = PROMETHEUS / "sistem48.rules.yml"


def _promtool() -> str:
    found = shutil.which("promtool") or shutil.which("promtool", path=str(Path(sys.executable).parent))
    assert found, "promtool is missing: scripts/bootstrap.sh test puts it into .venv/bin"
    return found


def test_promtool_accepts_the_alert_rules_and_the_scrape_config(tmp_path: Path) -> None:
    rules = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 13 rules found" in rules.stdout
    # The scrape example names the rules at their installed path; point it at the repository's copy.
    scrape = tmp_path / "prometheus.yml"
    scrape.write_text(
        (PROMETHEUS / "scrape.yml").read_text().replace("/etc/prometheus/rules/", f"{PROMETHEUS}/")
    )
    config = subprocess.run([_promtool(), "check", "config", str(scrape)], capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_metric_the_alerts_use_is_served_by_metrics(tmp_path: Path, db_url: str) -> None:
    cfg = make_config(tmp_path, db_url)
    cfg.mail.enabled = True  # a medium to deliver on, so the outbox sender (and its health) exists
    gw = build_gateway(cfg, roles={"api", "outbox"})
    with TestClient(create_app(cfg, gateway=gw)) as client:
        served = set(re.findall(r"^# TYPE (\w+) ", client.get("/metrics").text, re.MULTILINE))
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    used = {name for rule in rules for name in re.findall(r"\bsistem48_\w+", rule["expr"])}
    assert used and used <= served, f"not in /metrics: {used - served}"
    for rule in rules:
        assert rule["alert"].startswith("Sistem48") and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    alerts = {rule["alert"] for rule in rules}
    wanted = ["ModemDisconnected", "ModemNoSignal", "SipNotRegistered", "OutboxBacklog"]
    wanted += ["MailSpoolBacklog", "TranscriptionFailing", "DiskNearlyFull", "SlaBreachesPilingUp"]
    assert {f"Sistem48{w}" for w in wanted} <= alerts
