"""The call script of one answered call: greeting (a key opens the status menu), beep, the message
recorded from answer, its hand-over to the inbox; the status menu that reads a reference's state.

Runs on pyVoIP's per-call thread; mixed into VoicemailChannel, which owns the state it uses.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from channels.base import Attachment, CallOutcome, ChannelKind, InboundContact, Inbox
from channels.privacy import mask_phone
from voicemail.audio import duration_s, wav_bytes
from voicemail.prompts import Prompts
from voicemail.recorder import EndReason
from voicemail.settings import HoursKind, SipSettings
from voicemail.sip import CallLeg
from voicemail.sipwire import NOT_ACCEPTABLE

log = logging.getLogger("voicemail.channel")

T = TypeVar("T")

_POLL_S = 0.02
_REFERENCE_DIGIT_TIMEOUT_S = 8.0
_MAX_REFERENCE_DIGITS = 16
CORE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Ringing:
    started_at: datetime
    started_mono: float
    kind: HoursKind


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: CallOutcome
    detail: str


class CallScript(ABC):
    """What happens on an answered call; the channel provides the state declared here and the two
    abstract hooks (how to reach the core from the call's thread, where to keep a call it refused)."""

    _settings: SipSettings
    _prompts: Prompts | None
    _status_lookup: Callable[[str], Awaitable[str | None]] | None
    _has_speech: Callable[[bytes, int], bool] | None
    _clock: Callable[[], datetime]
    _inbox: Inbox | None
    _lock: threading.Lock
    _counters: dict[str, int]
    _day: date | None
    _recorded_today: int

    @abstractmethod
    def _call_core(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T: ...

    @abstractmethod
    def _quarantine(self, contact: InboundContact) -> Path: ...

    def _converse(self, leg: CallLeg, ringing: Ringing) -> Decision:
        prompts = self._prompts
        assert prompts is not None
        if leg.ringing and leg.codec is None:
            leg.refuse(NOT_ACCEPTABLE)  # SDP we could not map to RTP ports
            return Decision(CallOutcome.REFUSED, "no usable media")
        if not leg.ringing or not leg.answer():
            return Decision(CallOutcome.MISSED, "caller gave up while ringing")
        if self._mailbox_full():
            self._play(leg, prompts.mailbox_full)
            return Decision(CallOutcome.MISSED, "mailbox full")
        # Speech over the greeting is kept: callers start talking before the beep.
        leg.recorder.listen()
        # The status menu is a key press at any time during the greeting, never a wait.
        menu = self._settings.dtmf_menu and self._status_lookup is not None
        greeting = prompts.greeting(ringing.kind) + (prompts.menu if menu else b"")
        digit = self._play(leg, greeting, interruptible=True)
        if not leg.up:
            if leg.recorder.heard_voice:  # said it all over the greeting, then hung up
                return self._keep_message(leg, ringing, EndReason.BYE)
            return Decision(CallOutcome.MISSED, "hung up during greeting")
        if menu and digit == "2":
            return self._status_menu(leg, prompts)
        self._play(leg, prompts.beep)
        while leg.digit():
            pass  # keys pressed during the prompts must not end the message
        leg.recorder.arm()
        reason = self._record(leg)
        leg.hangup()
        return self._keep_message(leg, ringing, reason)

    def _record(self, leg: CallLeg) -> EndReason:
        while True:
            if not leg.up:
                return EndReason.BYE
            if leg.digit() == "#":
                return EndReason.DTMF
            reason = leg.recorder.check()
            if reason is not None:
                return reason
            time.sleep(_POLL_S)

    def _keep_message(self, leg: CallLeg, ringing: Ringing, reason: EndReason) -> Decision:
        pcm = leg.recorder.pcm16()
        seconds = duration_s(pcm)
        caller = leg.info.caller
        if seconds < self._settings.min_message_s:
            return Decision(CallOutcome.MISSED, f"message too short ({seconds:.1f} s)")
        if self._has_speech is not None and not self._has_speech(pcm, 8000):
            return Decision(CallOutcome.MISSED, "no speech in message")
        contact = InboundContact(
            channel=ChannelKind.VOICE,
            external_id=leg.call_id,
            sender=caller,
            received_at=ringing.started_at.astimezone(UTC),
            body="",
            attachments=(Attachment(f"voicemail-{_filename(leg.call_id)}.wav", "audio/wav", wav_bytes(pcm)),),
            raw=None,
            meta={
                "called": leg.info.called or self._settings.called_number,
                "duration_s": f"{seconds:.2f}",
                "after_hours": "0" if ringing.kind == HoursKind.BUSINESS else "1",
                "hours": str(ringing.kind),
                "codec": leg.codec or "",
                "ended_by": str(reason),
            },
        )
        with self._lock:
            self._count_recording()
            self._counters["voicemails"] += 1
        try:
            inbox = self._inbox
            assert inbox is not None
            self._call_core(inbox.ingest(contact), self._settings.ingest_timeout_s)
        except Exception as exc:
            path = self._quarantine(contact)
            log.error(
                "voicemail %s not ingested (%r); kept in quarantine as %s",
                short(leg.call_id),
                exc,
                path.name,
            )
            return Decision(CallOutcome.VOICEMAIL, "quarantined: ingest failed")
        log.info(
            "voicemail %s from %s: %.1f s, ended by %s",
            short(leg.call_id),
            mask_phone(caller),
            seconds,
            reason,
        )
        return Decision(CallOutcome.VOICEMAIL, f"ended by {reason}")

    def _status_menu(self, leg: CallLeg, prompts: Prompts) -> Decision:
        digit = self._play(leg, prompts.enter_reference, interruptible=True)
        reference = "" if digit in ("", "#") else digit
        while leg.up and len(reference) < _MAX_REFERENCE_DIGITS:
            digit = self._wait_digit(leg, _REFERENCE_DIGIT_TIMEOUT_S)
            if digit in ("", "#"):
                break
            if digit.isdigit():
                reference += digit
        if not leg.up:
            return Decision(CallOutcome.STATUS_LOOKUP, "hung up before the reference")
        status: str | None = None
        found = False
        if reference and self._status_lookup is not None:
            try:
                lookup = _awaited(self._status_lookup(reference))
                status = self._call_core(lookup, CORE_TIMEOUT_S)
                found = True
            except Exception as exc:
                log.warning("status lookup failed: %r", exc)
        if not found:
            prompt = prompts.unknown
        elif status is None:
            prompt = prompts.not_found
        else:
            prompt = prompts.status.get(status, prompts.unknown)
        self._play(leg, prompt)
        self._play(leg, prompts.goodbye)
        return Decision(CallOutcome.STATUS_LOOKUP, f"reference {reference or '-'}: {status}")

    def _play(self, leg: CallLeg, pcm: bytes, *, interruptible: bool = False) -> str:
        """Play and wait until sent; with `interruptible`, a key stops it and is returned."""
        leg.play(pcm)
        while leg.up and leg.playing():
            if interruptible:
                digit = leg.digit()
                if digit:
                    leg.stop_playing()
                    return digit
            time.sleep(_POLL_S)
        time.sleep(2 * _POLL_S)  # the last frame is still on its way
        return ""

    def _wait_digit(self, leg: CallLeg, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while leg.up and time.monotonic() < deadline:
            digit = leg.digit()
            if digit:
                return digit
            time.sleep(_POLL_S)
        return ""

    def _mailbox_full(self) -> bool:
        with self._lock:
            self._roll_day()
            return self._recorded_today >= self._settings.max_recordings_per_day

    def _count_recording(self) -> None:
        self._roll_day()
        self._recorded_today += 1

    def _roll_day(self) -> None:
        today = self._clock().astimezone(UTC).date()
        if today != self._day:
            self._day, self._recorded_today = today, 0


def _filename(call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]", "_", call_id)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def short(call_id: str) -> str:
    return call_id[:16]


def log_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("call log entry not recorded: %r", future.exception())
