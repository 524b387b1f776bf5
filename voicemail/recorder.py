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
# Callers who talk over the greeting: audio from answer to beep is kept, this much at most, and
# only from shortly before the first loud frame (a silent listener adds nothing to the message).
MAX_PRE_BEEP_S = 30.0
PRE_SPEECH_PAD_S = 0.5


class EndReason(StrEnum):
    BYE = "bye"
    DTMF = "dtmf"
    MAX_LENGTH = "max_length"
    SILENCE = "silence"
    RTP_TIMEOUT = "rtp_timeout"


class Recorder:
    """Keeps what the caller sends after `listen()` (answer) or `arm()` (beep); answers whether the
    message should end, counting from the beep."""

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
        self._frames: dict[int, tuple[Codec, bytes, bool]] = {}
        # Bounds against forged RTP (anyone can send to the port): at most one packet per 10 ms
        # of the longest message, and a message no longer than that message plus a second.
        self._max_frames = int((max_message_s + MAX_PRE_BEEP_S) * 100) + 100
        self._max_samples = int((max_message_s + 1) * 8000)
        self._max_pre_beep = int(MAX_PRE_BEEP_S * 8000)
        self._max_gap = int(rtp_timeout_s * 8000) + 8000
        self._listening = False
        self._beep_ts: int | None = None  # the caller's RTP timestamp when the beep was sent
        self._newest_ts: int | None = None  # where the newest packet ends
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
            if not self._listening or not payload or len(self._frames) >= self._max_frames:
                return
            ts = timestamp & (_WRAP - 1)
            self._frames[ts] = (codec, payload, loud)
            self.packets_recorded += 1
            end = (ts + len(payload)) & (_WRAP - 1)
            if self._newest_ts is None or (end - self._newest_ts) % _WRAP < _HALF:
                self._newest_ts = end
            if loud:
                self._last_voice = now

    def note_activity(self) -> None:
        """A packet that is not audio (an RFC 4733 event) still proves the caller is there."""
        with self._lock:
            self._last_rx = self._monotonic()

    def listen(self) -> None:
        """Keep audio from now on (the call is answered): speech over the greeting is not lost."""
        with self._lock:
            self._listening = True

    def arm(self) -> None:
        """The beep: the message's clock starts; before it, only the caller's speech is kept."""
        with self._lock:
            now = self._monotonic()
            if not self._listening:
                self._frames.clear()
                self.packets_recorded = 0
            self._listening = True
            self._beep_ts = self._newest_ts
            self._armed_at = now
            self._last_rx = now
            self._last_voice = now

    @property
    def heard_voice(self) -> bool:
        """Whether anything loud enough to be speech was kept (a caller who spoke over the greeting)."""
        with self._lock:
            return any(loud for _, _, loud in self._frames.values())

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
            beep_ts = self._beep_ts
        if not items:
            return b""
        t0 = items[0][0] if beep_ts is None else beep_ts
        # Signed distance from the beep (or the first packet), so reordering and wrap-around sort.
        ordered = sorted(
            (((ts - t0 + _HALF) % _WRAP) - _HALF, codec, p, loud) for ts, (codec, p, loud) in items
        )
        ordered = self._main_run(ordered)
        spoken_before_beep = [o for o, _, _, loud in ordered if loud and -self._max_pre_beep <= o < 0]
        if beep_ts is None:
            first = ordered[0][0]
        elif spoken_before_beep:
            first = max(spoken_before_beep[0] - int(PRE_SPEECH_PAD_S * 8000), -self._max_pre_beep)
        else:
            first = 0
        placed = [(o, c, p) for o, c, p, _ in ordered if o + len(p) > first]
        if not placed:
            return b""
        base = max(first, placed[0][0])
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

    def _main_run(self, placed: list[tuple[int, Codec, bytes, bool]]) -> list[tuple[int, Codec, bytes, bool]]:
        # A live sender never jumps further than the RTP timeout; a jump that far is a forged or
        # stray packet, which would otherwise become gigabytes of zero-filled "gap". Keep the run
        # of packets with the most members.
        runs: list[list[tuple[int, Codec, bytes, bool]]] = [[placed[0]]]
        for item in placed[1:]:
            if item[0] - runs[-1][-1][0] > self._max_gap:
                runs.append([])
            runs[-1].append(item)
        return max(runs, key=len)
