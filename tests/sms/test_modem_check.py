"""`sistem48 modem check` against the fake AT modem on a pty (gammu's real `at` driver): healthy, no SIM,
PIN required and no network, each with its plain-words advice."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from sms.check import ModemReport, check_modem
from sms.settings import SmsSettings
from tests.sms.fake_at_modem import FakeModem

# What a registered Quectel EC25 answers beyond the base fake: SMS storages, registration and
# operator queries that gammu's GetNetworkInfo and GetSMSStatus send.
HEALTHY = {
    "AT+CPMS=?": '+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")',
    "AT+CREG=2": "",
    "AT+CGREG=2": "",
    "AT+CGATT?": "+CGATT: 1",
    "AT+CGREG?": '+CGREG: 2,1,"1A2B","00C0FFEE"',
    "AT+COPS=3,2": "",
    "AT+COPS=3,0": "",
    "AT+COPS?": '+COPS: 0,0,"mts"',
}


class StatefulModem(FakeModem):
    """The fake modem, with commands that answer a bare error line (a modem without a SIM) and a SIM
    that unlocks with `pin`."""

    def __init__(self, replies: dict[str, str], errors: dict[str, str] | None = None, pin: str = "") -> None:
        super().__init__({**HEALTHY, **replies})
        self.errors = errors or {}
        self.pin = pin

    def _answer(self, cmd: str) -> None:
        up = cmd.upper()
        if self.pin and up.startswith('AT+CPIN="'):
            if up == f'AT+CPIN="{self.pin}"':
                self.replies["AT+CPIN?"] = "+CPIN: READY"
                self.seen.append(cmd)
                os.write(self.master, f"{cmd}\r\r\nOK\r\n".encode())
                return
            self.errors[up] = "+CME ERROR: 16"  # incorrect password
        error = self.errors.get(up)
        if error is None:
            super()._answer(cmd)
            return
        self.seen.append(cmd)
        os.write(self.master, f"{cmd}\r\r\n{error}\r\n".encode())


def _check(modem: FakeModem) -> ModemReport:
    modem.start()
    try:
        settings = SmsSettings(model="at", connection="at", device=modem.name, call_timeout_s=9)
        return asyncio.run(check_modem(settings))
    finally:
        modem.unplug()


def test_healthy_modem_shows_model_signal_network_smsc_and_storage_and_says_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modem = StatefulModem({"AT+CPMS?": '+CPMS: "SM",3,50,"SM",3,50,"SM",3,50'})
    modem.start()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[sms]\nmodel = "at"\nconnection = "at"\ndevice = "{modem.name}"\ncall_timeout_s = 9\n'
    )
    try:
        result = CliRunner().invoke(app, ["modem", "check", "--config", str(config)])
    finally:
        modem.unplug()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "model        Quectel EC25" in lines
    assert "signal       63 %" in lines
    assert "network      HomeNetwork mts" in lines
    assert "SMSC         +381640000000" in lines
    assert "SIM storage  3 of 50 SMS" in lines
    assert lines[-1] == "ok: the modem is ready for the gateway"


def test_modem_without_a_sim_says_to_insert_one() -> None:
    report = _check(StatefulModem({}, errors={"AT+CPIN?": "+CME ERROR: 10"}))
    assert not report.ok
    assert report.problems == [
        "No SIM card: switch the modem off (unplug it), put the SIM in, plug it back."
    ], report.lines()


def test_sim_asking_for_a_pin_says_where_the_pin_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SISTEM48_SIM_PIN", raising=False)
    report = _check(StatefulModem({"AT+CPIN?": "+CPIN: SIM PIN"}))
    assert len(report.problems) == 1
    assert report.problems[0].startswith("The SIM asks for its PIN: put SISTEM48_SIM_PIN=<PIN> into")
    assert "/etc/sistem48/secrets.env" in report.problems[0]


def test_modem_without_network_reports_no_signal_and_not_registered() -> None:
    report = _check(
        StatefulModem(
            {
                "AT+CSQ": "+CSQ: 99,99",
                "AT+CREG?": "+CREG: 2,0",
                "AT+CGREG?": "+CGREG: 2,0",
                "AT+CGATT?": "+CGATT: 0",
                "AT+COPS?": "+COPS: 0",
            }
        )
    )
    assert report.facts["signal"] == "unknown"
    assert report.facts["network"].startswith("NoNetwork") or "Unknown" in report.facts["network"]
    assert [p.split(":")[0] for p in report.problems] == [
        "No or very weak signal",
        "The modem is not registered on a mobile network",
    ], report.lines()
    assert report.facts["SMSC"] == "+381640000000"  # what still works is still shown


def test_pin_from_the_secret_file_unlocks_the_sim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SISTEM48_SIM_PIN", "4821")  # systemd puts secrets.env into the environment
    modem = StatefulModem({"AT+CPIN?": "+CPIN: SIM PIN"}, pin="4821")
    report = _check(modem)
    assert report.ok, report.lines()
    assert 'AT+CPIN="4821"' in modem.seen


def test_a_wrong_pin_says_not_to_retry_blindly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SISTEM48_SIM_PIN", "0000")
    report = _check(StatefulModem({"AT+CPIN?": "+CPIN: SIM PIN"}, pin="4821"))
    assert len(report.problems) == 1
    assert "Do not retry blindly" in report.problems[0], report.lines()
