"""SIP hotline load benchmark: N simultaneous sipp calls with real speech against one
VoicemailChannel, compared with a single call measured in the same run.

Prints per-call completeness (recorded/sent samples, bit-exact count), the gateway process's
CPU (% of one core while calls run) and the pacing of the greeting it sends (mean |interval -
20 ms| and worst gap, measured at the callers' RTP sockets on loopback).

usage: .venv/bin/python benchmarks/sip_calls.py [N] [SECONDS]   (default 30 calls of 60 s)
"""

from __future__ import annotations

import asyncio
import audioop
import io
import itertools
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
import wave
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rigs.sipp import (
    SIPP,
    RecordingInbox,
    Speech,
    fixed_clock,
    free_udp_ports,
    make_speech,
    make_tone_wav,
    render,
    settings_for,
)
from voicemail.channel import VoicemailChannel
from voicemail.settings import HoursKind

GREETING_S = 2.0


class Listener:
    """One UDP port for every caller's media: arrival times per sending (gateway) port."""

    def __init__(self) -> None:
        self.port = free_udp_ports(2)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.arrivals: dict[int, list[tuple[float, bool]]] = defaultdict(list)
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while self.running:
            try:
                data, addr = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            if len(data) >= 12:
                silent = data[12:] == bytes([data[12]]) * (len(data) - 12)
                self.arrivals[addr[1]].append((time.monotonic(), not silent))

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()

    def greeting_pacing(self) -> tuple[float, float]:
        devs, worst = [], 0.0
        for packets in self.arrivals.values():
            # Every packet counts: the gateway sends a frame each 20 ms, audio or silence.
            for (a, _), (b, _) in itertools.pairwise(packets):
                devs.append(abs(b - a - 0.02))
                worst = max(worst, b - a)
        return (statistics.fmean(devs) if devs else 0.0), worst


def lengthen(speech: Speech, seconds: float, folder: Path) -> Speech:
    """The espeak sentence repeated to `seconds` of speech (whole 20 ms packets)."""
    samples = int(seconds * 8000) // 160 * 160
    ul = (speech.ul.read_bytes() * (samples // len(speech.ul.read_bytes()) + 1))[:samples]
    al = (speech.al.read_bytes() * (samples // len(speech.al.read_bytes()) + 1))[:samples]
    (folder / "long.ul").write_bytes(ul)
    (folder / "long.al").write_bytes(al)
    return Speech(folder / "long.ul", folder / "long.al", audioop.ulaw2lin(ul, 2), audioop.alaw2lin(al, 2))


async def run_load(n: int, work: Path, seconds: float) -> dict[str, float]:
    speech = lengthen(make_speech(work / f"speech{n}"), seconds, work / f"speech{n}")
    (work / f"n{n}").mkdir()
    make_tone_wav(work / f"n{n}" / "greeting16k.wav", GREETING_S, 660)
    settings = settings_for(
        work / f"n{n}",
        max_calls=n + 5,
        rtp_port_low=(low := free_udp_ports(4 * n)),
        rtp_port_high=low + 4 * n - 1,
        min_message_s=0.5,
        max_message_s=seconds + 60,
    )
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=lambda _n: HoursKind.AFTER_HOURS, clock=fixed_clock)
    listener = Listener()
    scenario = render(
        "uac_talk_bye.xml", work, caller="0641234567", offer="0 101",
        rtpmaps="a=rtpmap:0 PCMU/8000\r\n      a=rtpmap:101 telephone-event/8000",
        rx_port=listener.port, audio=speech.ul, pt=0, greet_ms=int(GREETING_S * 1000) + 1500,
        talk_ms=int(len(speech.pcm_ul) / 16) + 1500, bye_timeout_ms=15000,
    )  # fmt: skip
    await channel.start(inbox)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        SIPP, f"127.0.0.1:{settings.bind_port}", "-sf", str(scenario), "-s", "48",
        "-i", "127.0.0.1", "-p", str(free_udp_ports(1)), "-mi", "127.0.0.1",
        "-mp", str(free_udp_ports(4 * n + 4)), "-m", str(n), "-l", str(n), "-r", str(n),
        "-rp", "1000", "-nostdin", "-timeout", "90s", "-default_behaviors", "all,-abortunexp",
        cwd=work, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    rc = await proc.wait()
    await inbox.wait_calls(n, 30)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    await channel.stop()
    listener.close()
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    sent = len(speech.pcm_ul) // 2
    ratios, exact = [], 0
    for contact in inbox.contacts:
        with wave.open(io.BytesIO(contact.attachments[0].data)) as w:
            pcm = w.readframes(w.getnframes())
        ratios.append(len(pcm) / 2 / sent)
        exact += pcm == speech.pcm_ul
    jitter, worst = listener.greeting_pacing()
    return {
        "calls": n,
        "sipp_rc": rc,
        "voicemails": len(inbox.contacts),
        "bit_exact": exact,
        "completeness_min": min(ratios, default=0.0),
        "completeness_mean": statistics.fmean(ratios) if ratios else 0.0,
        "cpu_pct": 100 * cpu_s / wall,
        "jitter_ms": 1000 * jitter,
        "worst_gap_ms": 1000 * worst,
        "wall_s": wall,
    }


def show(r: dict[str, float]) -> None:
    print(
        f"  {int(r['calls']):3d} calls: sipp rc={int(r['sipp_rc'])}"
        f" voicemails={int(r['voicemails'])}"
        f" bit-exact={int(r['bit_exact'])} completeness min/mean={r['completeness_min']:.4f}/"
        f"{r['completeness_mean']:.4f} CPU={r['cpu_pct']:.1f}% of a core"
        f" RTP sent |interval-20ms| mean={r['jitter_ms']:.2f} ms"
        f" worst gap={r['worst_gap_ms']:.1f} ms"
        f" wall={r['wall_s']:.1f}s"
    )


async def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    print(f"{n} simultaneous calls, {seconds:.0f} s of speech each")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = await run_load(1, work, seconds)
        load = await run_load(n, work, seconds)
    print("baseline (same run):")
    show(base)
    print("load:")
    show(load)
    per_call_cpu = (load["cpu_pct"] / n) / max(base["cpu_pct"], 1e-9)
    print("ratios load/baseline:")
    print(f"  completeness min: {load['completeness_min'] / max(base['completeness_min'], 1e-9):.3f}")
    print(f"  CPU per call:     {per_call_cpu:.2f}")
    print(f"  send jitter:      {load['jitter_ms'] / max(base['jitter_ms'], 1e-9):.2f}")
    print(f"  worst gap:        {load['worst_gap_ms'] / max(base['worst_gap_ms'], 1e-9):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
