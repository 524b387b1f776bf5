"""Real peers for the SIP hotline: Debian's Kamailio (registrar with digest auth, Record-Routing
proxy) and a headless baresip phone, both on loopback ports, configured in a test's tmp folder.
"""

from __future__ import annotations

import asyncio
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

from tests.voicemail.sip_harness import free_udp_ports

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
KAM_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
BARESIP_MODULES = "/usr/lib/baresip/modules"
SIP_USER = "hotline"
SIP_PASSWORD = "loopback-secret"  # a throwaway credential of the test registrar

_KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
alias="127.0.0.1:{port}"
mpath="{modules}"
loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", {min_expires})
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires_mode", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("REGISTER")) {{
        xlog("L_NOTICE", "S48 TRY REGISTER from $si:$sp\\n");
        if (!pv_www_authenticate("$td", "{password}", "0")) {{ www_challenge("$td", "0"); exit; }}
        xlog("L_NOTICE", "S48 REGISTER $tu expires=$hdr(Expires) from $si:$sp\\n");
        save("location");  # replies itself, 423 with Min-Expires included
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) t_relay(); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{
            xlog("L_NOTICE", "S48 ROUTED $rm from $si:$sp\\n");
        }} else if (uri == myself && !lookup("location")) {{
            sl_send_reply("404", "Not Found"); exit;
        }}
        if (is_method("ACK") && !t_check_trans()) {{ forward(); exit; }}
        t_relay();
        exit;
    }}
    if (uri == myself) {{
        if (!lookup("location")) {{ {unknown} }}
    }}
    record_route();
    xlog("L_NOTICE", "S48 NEW $rm from $si:$sp\\n");
    t_relay();
}}
"""

_BARESIP_CFG = """poll_method epoll
net_interface 127.0.0.1
sip_listen 127.0.0.1:{port}
audio_source aufile,{source}
audio_player aubridge,nil
audio_alert aubridge,nil
audio_srate 8000
audio_channels 1
rtp_ports {rtp_low}-{rtp_high}
module_path {modules}
module g711.so
module aufile.so
module aubridge.so
module_app account.so
module_app menu.so
"""


@dataclass
class Kamailio:
    folder: Path
    port: int
    process: asyncio.subprocess.Process | None = None

    @property
    def log(self) -> str:
        return (self.folder / "kamailio.log").read_text(errors="replace")

    async def start(self) -> None:
        stderr = (self.folder / "kamailio.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            KAMAILIO, "-f", str(self.folder / "kamailio.cfg"), "-DD", "-E", "-w", str(self.folder),
            "-Y", str(self.folder), stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        stderr.close()
        for _ in range(100):
            if "S48" in self.log or "INFO: <core>" in self.log:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def kamailio(folder: Path, *, min_expires: int = 10, trunk_to: int | None = None) -> Kamailio:
    """A registrar/proxy; with `trunk_to`, calls for unregistered users go to that loopback port
    (an IP-authenticated trunk toward the hotline in trunk mode)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_udp_ports(1)
    unknown = f'$du = "sip:127.0.0.1:{trunk_to}";' if trunk_to else 'sl_send_reply("404", "Not Found"); exit;'
    cfg = _KAMAILIO_CFG.format(
        port=port, modules=KAM_MODULES, min_expires=min_expires, password=SIP_PASSWORD, unknown=unknown
    )
    (folder / "kamailio.cfg").write_text(cfg)
    return Kamailio(folder, port)


def write_source_wav(path: Path, pcm16: bytes, lead_s: float = 0.0, tail_s: float = 0.0) -> None:
    """A 16-bit 8 kHz WAV for baresip's aufile source, padded with digital silence."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(lead_s * 8000) + pcm16 + b"\0\0" * int(tail_s * 8000))


async def baresip_call(folder: Path, target: str, source: Path, codec: str, seconds: float) -> str:
    """Run baresip headless: dial `target`, play `source`, hang up at its end; quit after
    `seconds`. Returns baresip's output."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a tmp folder, before any I/O waits
    rtp_low = free_udp_ports(4)
    (folder / "config").write_text(
        _BARESIP_CFG.format(
            port=free_udp_ports(1),
            source=source,
            rtp_low=rtp_low,
            rtp_high=rtp_low + 3,
            modules=BARESIP_MODULES,
        )
    )
    (folder / "accounts").write_text(f"<sip:caller@127.0.0.1>;regint=0;audio_codecs={codec}\n")
    (folder / "contacts").write_text("")
    process = await asyncio.create_subprocess_exec(
        BARESIP, "-f", str(folder), "-e", f"/dial {target}", "-t", str(int(seconds)),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), seconds + 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return out.decode(errors="replace")
