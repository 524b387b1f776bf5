"""A fake AT modem on a pty (the recipe's), driven through gammu's real `at` driver.

It answers identification and status commands only; unplug() closes the pty like a pulled
USB stick, so gammu's calls hang until the watchdog aborts them.
"""

from __future__ import annotations

import os
import pty
import select
import threading
import tty

REPLIES = {
    "AT+CGMI": "Quectel", "AT+CGMM": "EC25", "AT+CGMR": "EC25EFAR06A06M4G",
    "AT+CGSN": "867584031234567", "AT+CIMI": "220011234567890", "AT+CSQ": "+CSQ: 21,99",
    "AT+CPIN?": "+CPIN: READY", "AT+CREG?": '+CREG: 2,1,"1A2B","00C0FFEE"',
    "AT+COPS?": '+COPS: 0,2,"22001"', "AT+CPMS?": '+CPMS: "SM",0,50,"SM",0,50,"SM",0,50',
    "AT+CSCA?": '+CSCA: "+381640000000",145', "AT+CBC": "+CBC: 0,80,4000",
    "AT+CSCS?": '+CSCS: "GSM"', "AT+CSCS=?": '+CSCS: ("GSM","IRA","UCS2")',
}  # fmt: skip
ACCEPTED = ("AT+CMGF", "AT+CSCS=", "AT+CPMS=", "AT+CNMI", "AT+CMEE")


class FakeModem(threading.Thread):
    def __init__(self, replies: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.master)
        self.name = os.ttyname(self.slave)
        self.alive = True
        self.seen: list[str] = []
        self.replies = {**REPLIES, **(replies or {})}

    def run(self) -> None:
        buf = b""
        while self.alive:
            try:
                if not select.select([self.master], [], [], 0.1)[0]:
                    continue
                buf += os.read(self.master, 1024)
            except (OSError, ValueError):
                return
            while b"\r" in buf:
                line, buf = buf.split(b"\r", 1)
                cmd = line.decode(errors="replace").strip()
                if cmd:
                    self._answer(cmd)

    def _answer(self, cmd: str) -> None:
        self.seen.append(cmd)
        up = cmd.upper()
        body = self.replies.get(up)
        resp = cmd + "\r\r\n"  # echo (ATE1)
        if body is not None:
            resp += body + "\r\n\r\nOK\r\n"
        elif up.endswith("?"):
            resp += "ERROR\r\n"
        elif up.startswith(ACCEPTED) or up in ("AT", "ATE1"):
            resp += "OK\r\n"
        else:
            resp += "ERROR\r\n"
        try:
            os.write(self.master, resp.encode())
        except OSError:
            self.alive = False

    def unplug(self) -> None:
        self.alive = False
        os.close(self.master)
        os.close(self.slave)
