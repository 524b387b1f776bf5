"""`sistem48 modem check`: what the gateway sees of the real GSM modem (model, signal, network, SMS
centre, SIM storage) and, in plain words, what the administrator should fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.base import ChannelAuthFailed, ChannelError, ChannelMisconfigured
from sms.modem import HEALTHY_NETWORK_STATES, Modem
from sms.settings import SmsSettings

_QUESTIONS = ("GetManufacturer", "GetModel", "GetSignalQuality", "GetNetworkInfo", "GetSMSC", "GetSMSStatus")
# Below this the modem still works, but SMS get lost or arrive late.
_WEAK_SIGNAL = 10
# A SIM this full drops new SMS before the gateway reads them.
_SIM_NEARLY_FULL = 0.8

# Gammu's error names at connect → the advice for them.
_CONNECT_ADVICE = {
    "ERR_NOSIM": "No SIM card: switch the modem off (unplug it), put the SIM in, plug it back.",
    "ERR_DEVICENOTEXIST": "The device {device} does not exist: is the modem plugged in, and does the udev "
    "rule (/etc/udev/rules.d/99-sistem48-modem.rules, from /opt/sistem48/share/deploy/udev/) match it? "
    "`ls -l /dev/serial/by-id/` lists the ports.",
    "ERR_DEVICEOPENERROR": "{device} cannot be opened: another program (ModemManager?) holds it. "
    "`apt purge modemmanager` or `systemctl disable --now ModemManager`.",
    "ERR_DEVICENOPERMISSION": "No permission on {device}: the sistem48 user must be in the dialout group "
    'and the udev rule must set GROUP="dialout".',
    "ERR_DEVICEBUSY": "{device} is busy: another program (ModemManager?) holds it.",
    "ERR_TIMEOUT": "No answer on {device}: this is probably not the modem's AT port. USB modems have "
    "several ttyUSB ports; try the others (/opt/sistem48/share/docs/install.md lists the right one "
    "for common modems).",
    "ERR_NOTCONNECTED": "No answer on {device}: this is probably not the modem's AT port.",
}


@dataclass
class ModemReport:
    """What the check saw (label → value) and what to fix; no problems means ready."""

    facts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"{label:12} {value}" for label, value in self.facts.items()]
        if self.ok:
            return [*out, "ok: the modem is ready for the gateway"]
        return [*out, *(f"fix: {p}" for p in self.problems)]


async def check_modem(settings: SmsSettings) -> ModemReport:
    """Connect the way the gateway does (PIN from the secret file included) and ask the modem."""
    report = ModemReport(facts={"device": settings.device})
    modem = Modem(settings)
    try:
        try:
            await modem.open()
        except ChannelError as exc:
            report.facts["connect"] = f"failed: {exc}"
            report.problems.append(_connect_advice(exc, settings))
            return report
        answers = await modem.ask(*_QUESTIONS)
    finally:
        await modem.close()
    _read(report, answers)
    return report


def _connect_advice(exc: ChannelError, settings: SmsSettings) -> str:
    text = str(exc)
    if isinstance(exc, ChannelAuthFailed):
        if "PUK" in text:
            return "The SIM is blocked and asks for its PUK: unblock it in a phone, then set a new PIN."
        return (
            f"The SIM refused the PIN in {settings.pin_env}: correct it in /etc/sistem48/secrets.env. "
            "Do not retry blindly: after three wrong PINs the SIM asks for the PUK."
        )
    if isinstance(exc, ChannelMisconfigured) and "PIN" in text:
        return (
            f"The SIM asks for its PIN: put {settings.pin_env}=<PIN> into /etc/sistem48/secrets.env "
            "(or switch the PIN off in a phone)."
        )
    for name, advice in _CONNECT_ADVICE.items():
        if name in text:
            return advice.format(device=settings.device)
    return f"The modem could not be used ({text}); see `journalctl -u sistem48` and docs/install.md."


def _read(report: ModemReport, answers: dict[str, Any]) -> None:
    facts, problems = report.facts, report.problems
    model = answers.get("GetModel")
    maker = answers.get("GetManufacturer")
    name = model[1] if isinstance(model, tuple) and model[1] != "unknown" else str(model or "?")
    facts["model"] = f"{maker} {name}" if isinstance(maker, str) else name

    signal = answers.get("GetSignalQuality")
    percent = int(signal.get("SignalPercent", -1)) if isinstance(signal, dict) else -1
    facts["signal"] = f"{percent} %" if percent >= 0 else "unknown"
    if percent < _WEAK_SIGNAL:
        problems.append(
            "No or very weak signal: put the modem (or an antenna on a USB extension cable) near a "
            "window, away from the server's metal case."
        )

    network = answers.get("GetNetworkInfo")
    network = network if isinstance(network, dict) else {}
    state = str(network.get("State", "Unknown"))
    operator = str(network.get("NetworkName") or network.get("NetworkCode") or "")
    facts["network"] = f"{state} {operator}".strip()
    if state not in HEALTHY_NETWORK_STATES:
        problems.append(
            "The modem is not registered on a mobile network: check that the SIM is active (put it in a "
            "phone and send an SMS), that the operator covers this place, and the signal above."
        )

    smsc = answers.get("GetSMSC")
    number = str(smsc.get("Number", "")) if isinstance(smsc, dict) else ""
    facts["SMSC"] = number or "not set"
    if not number:
        problems.append(
            "No SMS centre number on the SIM: outgoing SMS will fail. Ask the operator for it "
            "(mts +38164..., A1 +38163..., Yettel +38162...) and store it with a phone."
        )

    storage = answers.get("GetSMSStatus")
    if isinstance(storage, dict) and storage.get("SIMSize"):
        used, size = int(storage.get("SIMUsed", 0)), int(storage["SIMSize"])
        facts["SIM storage"] = f"{used} of {size} SMS"
        if used >= _SIM_NEARLY_FULL * size:
            problems.append(
                "The SIM's SMS memory is nearly full; new SMS will be refused. The gateway empties it "
                "as it stores SMS: check that it runs (`systemctl status sistem48`)."
            )
    else:
        facts["SIM storage"] = "unknown"
