"""Test rig for the SIP hotline: caller-side RTP capture, SNR, raw RTP packets and DTMF snippets, plus
the shared rig (ports, speech, sipp runs, recording Inbox, settings) from rigs.sipp, re-exported.

Kept out of conftest.py because other helpers write tests in this folder at the same time.
"""

from __future__ import annotations

import audioop
import re
import socket
import struct
import threading
import time

import numpy as np

from rigs.sipp import (
    CODECS,
    FIXED_NOW,
    SCENARIOS,
    SIPP,
    RecordingInbox,
    SippResult,
    Speech,
    fixed_clock,
    free_udp_ports,
    make_speech,
    make_tone_wav,
    render,
    run_sipp,
    settings_for,
)

__all__ = [
    "CODECS",
    "FIXED_NOW",
    "SCENARIOS",
    "SIPP",
    "RecordingInbox",
    "RtpSink",
    "SippResult",
    "Speech",
    "call_ids_in",
    "dtmf",
    "fixed_clock",
    "free_udp_ports",
    "make_speech",
    "make_tone_wav",
    "pcm_from_wav",
    "render",
    "rtp_packet",
    "run_sipp",
    "settings_for",
    "snr_db",
]


def pcm_from_wav(data: bytes) -> bytes:
    from voicemail.audio import read_wav

    return read_wav(data)


def snr_db(reference: bytes, received: bytes) -> float:
    """Best-aligned SNR of `received` against `reference` (both PCM16)."""
    ref = np.frombuffer(reference, dtype="<i2").astype(np.float64)
    rec = np.frombuffer(received, dtype="<i2").astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(ref) + len(rec))))
    xc = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(xc))
    lag = lag if lag < n // 2 else lag - n
    r, s = (ref, rec[lag:]) if lag >= 0 else (ref[-lag:], rec)
    m = min(len(r), len(s))
    err = r[:m] - s[:m]
    return float(10 * np.log10(np.sum(r[:m] ** 2) / max(np.sum(err**2), 1e-9)))


# -- the caller's media port ---------------------------------------------------------------------
class RtpSink:
    """A UDP socket standing in for the caller's RTP port: keeps what the gateway sends."""

    def __init__(self) -> None:
        self.port = free_udp_ports(2)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.packets: list[tuple[float, int, int, int, bytes]] = []  # t, pt, seq, ts, payload
        self.sources: set[tuple[str, int]] = set()
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                data, addr = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            if len(data) < 12:
                continue
            _, m_pt, seq, ts = struct.unpack("!BBHI", data[:8])
            self.packets.append((time.monotonic(), m_pt & 0x7F, seq, ts, data[12:]))
            self.sources.add(addr)

    def close(self) -> None:
        self._running = False
        self._thread.join(2)
        self.sock.close()

    def heard(self, codec: str) -> bytes:
        pt = CODECS[codec]["pt"]
        payload = b"".join(p[4] for p in sorted(self.packets, key=lambda p: p[2]) if p[1] == pt)
        return audioop.ulaw2lin(payload, 2) if codec == "PCMU" else audioop.alaw2lin(payload, 2)


def rtp_packet(pt: int, payload: bytes, *, marker: bool = False, seq: int = 1, ts: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, (int(marker) << 7) | pt, seq, ts, 0x1234) + payload


def call_ids_in(messages: str) -> set[str]:
    return set(re.findall(r"^Call-ID: *(\S+)", messages, re.MULTILINE))


def dtmf(digit: str) -> str:
    name = {"#": "pound", "*": "star"}.get(digit, digit)
    return (
        f'<nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_{name}.pcap"/>'
        '</action></nop>\n  <pause milliseconds="400"/>'
    )
