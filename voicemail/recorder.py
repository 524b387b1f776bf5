"""Voicemail capture from raw RTP: payloads kept per RTP timestamp, decoded to 16-bit PCM in
timestamp order with lost packets zero-filled, plus the conditions that end a message.

Fed from pyVoIP's RTP receiver thread, read from the call thread: every method is thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from voicemail.audio import Codec, decode_g711, rms

_WRAP = 1 << 32  # RTP timestamps are 32-bit and wrap (RFC 3550 §5.1)
_HALF = 1 << 31


class EndReason(StrEnum):
    BYE = "bye"
    DTMF = "dtmf"
    MAX_LENGTH = "max_length"
    SILENCE = "silence"
    RTP_TIMEOUT = "rtp_timeout"


class Recorder:
    """Keeps what the caller sends after `arm()`; answers whether the message should end."""

    def __init__(
        self,
        *,
        max_message_s: float,
        silence_stop_s: float,
        rtp_timeout_s: float,
        voice_rms: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_message_s = max_message_s
        self._silence_stop_s = silence_stop_s
        self._rtp_timeout_s = rtp_timeout_s
        self._voice_rms = voice_rms
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._frames: dict[int, tuple[Codec, bytes]] = {}
        # Bounds against forged RTP (anyone can send to the port): at most one packet per 10 ms
        # of the longest message, and a message no longer than that message plus a second.
        self._max_frames = int(max_message_s * 100) + 100
        self._max_samples = int((max_message_s + 1) * 8000)
        self._max_gap = int(rtp_timeout_s * 8000) + 8000
        self._armed_at: float | None = None
        self._last_rx = monotonic()
        self._last_voice = self._last_rx
        self.packets_total = 0
        self.packets_recorded = 0
        self.codec: Codec | None = None

    def feed(self, timestamp: int, codec: Codec, payload: bytes) -> None:
        now = self._monotonic()
        loud = bool(payload) and rms(decode_g711(codec, payload)) >= self._voice_rms
        with self._lock:
            self.packets_total += 1
            self._last_rx = now
            self.codec = codec
            if self._armed_at is None or not payload or len(self._frames) >= self._max_frames:
                return
            self._frames[timestamp & (_WRAP - 1)] = (codec, payload)
            self.packets_recorded += 1
            if loud:
                self._last_voice = now

    def note_activity(self) -> None:
        """A packet that is not audio (an RFC 4733 event) still proves the caller is there."""
        with self._lock:
            self._last_rx = self._monotonic()

    def arm(self) -> None:
        """Start keeping audio from now on; what came before (during the greeting) is dropped."""
        with self._lock:
            now = self._monotonic()
            self._frames.clear()
            self.packets_recorded = 0
            self._armed_at = now
            self._last_rx = now
            self._last_voice = now

    @property
    def armed(self) -> bool:
        with self._lock:
            return self._armed_at is not None

    def check(self) -> EndReason | None:
        now = self._monotonic()
        with self._lock:
            if self._armed_at is None:
                return None
            if now - self._armed_at >= self._max_message_s:
                return EndReason.MAX_LENGTH
            if now - self._last_rx >= self._rtp_timeout_s:
                return EndReason.RTP_TIMEOUT
            if now - self._last_voice >= self._silence_stop_s:
                return EndReason.SILENCE
            return None

    def pcm16(self) -> bytes:
        """The message as PCM16: timestamp order, gaps as digital silence, overlaps trimmed."""
        with self._lock:
            items = list(self._frames.items())
        if not items:
            return b""
        t0 = items[0][0]
        # Signed distance from the first packet, so reordering around t0 and wrap-around both sort.
        placed = sorted((((ts - t0 + _HALF) % _WRAP) - _HALF, codec, p) for ts, (codec, p) in items)
        placed = self._main_run(placed)
        base = placed[0][0]
        out = bytearray()
        pos = 0
        for offset, codec, payload in placed:
            rel = offset - base
            if rel >= self._max_samples:
                break
            if rel > pos:
                out += b"\x00\x00" * (rel - pos)
                pos = rel
            elif rel < pos:
                payload = payload[pos - rel :]
                if not payload:
                    continue
            out += decode_g711(codec, payload)
            pos += len(payload)
        return bytes(out[: 2 * self._max_samples])

    def _main_run(self, placed: list[tuple[int, Codec, bytes]]) -> list[tuple[int, Codec, bytes]]:
        # A live sender never jumps further than the RTP timeout; a jump that far is a forged or
        # stray packet, which would otherwise become gigabytes of zero-filled "gap". Keep the run
        # of packets with the most members.
        runs: list[list[tuple[int, Codec, bytes]]] = [[placed[0]]]
        for item in placed[1:]:
            if item[0] - runs[-1][-1][0] > self._max_gap:
                runs.append([])
            runs[-1].append(item)
        return max(runs, key=len)
