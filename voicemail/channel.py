"""The SIP hotline's call script: screens and answers calls, plays the greeting (a key opens the
status menu), records from answer, hands each recording to the inbox (or quarantine), logs calls.

Call handling runs on pyVoIP's threads; the inbox lives on the asyncio loop `start()` ran on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from channels.base import (
    CallOutcome,
    CallRecord,
    ChannelAuthFailed,
    ChannelMisconfigured,
    ChannelState,
    ChannelStatus,
    InboundContact,
    Inbox,
    listen_failed,
)
from channels.clock import utc_now
from channels.privacy import mask_phone
from voicemail.audio import AudioFormatError
from voicemail.callscript import CORE_TIMEOUT_S, CallScript, Decision, Ringing, log_failure, short
from voicemail.prompts import Prompts, load_prompts
from voicemail.quarantine import Quarantine, load_entry, remove_entry, write_durably
from voicemail.recorder import Recorder
from voicemail.settings import HoursKind, SipSettings
from voicemail.sip import CallLeg, SipEndpoint
from voicemail.sipwire import BUSY_HERE, FORBIDDEN, NOT_ACCEPTABLE, InviteInfo, LineState, Refusal, SendStats

log = logging.getLogger(__name__)

T = TypeVar("T")

_REREGISTER_BACKOFF_S = 30.0


class VoicemailChannel(CallScript):
    """Channel `sip`: the hotline's after-hours voicemail (and, by policy, in-hours messages)."""

    name = "sip"

    def __init__(
        self,
        settings: SipSettings,
        *,
        hours: Callable[[datetime], HoursKind],
        status_lookup: Callable[[str], Awaitable[str | None]] | None = None,
        has_speech: Callable[[bytes, int], bool] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._hours = hours
        self._status_lookup = status_lookup
        self._has_speech = has_speech
        self._clock = clock
        self._inbox: Inbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._endpoint: SipEndpoint | None = None
        self._prompts: Prompts | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = threading.Lock()
        self._active = 0
        self._ringing: dict[str, Ringing] = {}
        self._refusals: dict[str, Decision] = {}
        self._recently_refused: deque[str] = deque(maxlen=512)
        self._day: date | None = None
        self._recorded_today = 0
        self._counters = {"calls": 0, "voicemails": 0, "refused": 0, "busy": 0, "quarantined": 0}
        self._state = ChannelState.STOPPED
        self._detail = ""
        self._since: datetime | None = None
        self._idle = threading.Condition(self._lock)
        self._last_send: SendStats | None = None

    # -- Channel protocol -------------------------------------------------------------------------
    async def start(self, inbox: Inbox) -> None:
        if self._endpoint is not None:
            return
        self._set_state(ChannelState.STARTING)
        if not self._settings.enabled:
            self._set_state(ChannelState.STOPPED, "disabled in settings")
            return
        self._inbox = inbox
        self._loop = asyncio.get_running_loop()
        try:
            self._prompts = await asyncio.to_thread(load_prompts, self._settings)
        except (OSError, AudioFormatError) as exc:
            self._set_state(ChannelState.MISCONFIGURED, f"greeting unusable: {exc}")
            raise ChannelMisconfigured(f"greeting unusable: {exc}") from exc
        password = ""
        if self._settings.mode == "register":
            password = os.environ.get(self._settings.password_env, "")
            if not password:
                detail = f"environment variable {self._settings.password_env} is not set"
                self._set_state(ChannelState.MISCONFIGURED, detail)
                raise ChannelMisconfigured(detail)
        try:
            instance = await asyncio.to_thread(self._instance_uuid)
            # to_thread: peer names are resolved here (blocking DNS).
            endpoint = await asyncio.to_thread(self._make_endpoint, password, instance)
            await asyncio.to_thread(endpoint.start)
        except OSError as exc:
            error = listen_failed("sip", f"{self._settings.bind_host}:{self._settings.bind_port}", exc)
            misconfigured = isinstance(error, ChannelMisconfigured)
            self._set_state(ChannelState.MISCONFIGURED if misconfigured else ChannelState.DOWN, str(error))
            raise error from exc
        self._endpoint = endpoint
        self._password, self._instance = password, instance
        self._refresh_state()
        self._tasks = [
            asyncio.create_task(self._quarantine_loop(), name="sip-quarantine"),
            asyncio.create_task(self._monitor_loop(), name="sip-monitor"),
        ]
        log.info(
            "SIP channel listening on %s:%d (%s mode)",
            self._settings.bind_host,
            self._settings.bind_port,
            self._settings.mode,
        )

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            await asyncio.to_thread(endpoint.stop)
            # Calls hung up by stop() still hand their recordings over on this loop.
            await asyncio.to_thread(self._wait_idle, self._settings.ingest_timeout_s + 5)
        self._set_state(ChannelState.STOPPED)

    def status(self) -> ChannelStatus:
        if self._endpoint is not None:
            self._refresh_state()
        with self._lock:
            metrics = {k: float(v) for k, v in self._counters.items()}
            metrics["active_calls"] = float(self._active)
            endpoint = self._endpoint
            if endpoint is not None:
                metrics["invites_rate_limited"] = float(endpoint.dropped_invites)
            if self._last_send is not None:  # pacing of the prompts of the last answered call
                metrics["last_call_send_jitter_ms"] = 1000 * self._last_send.mean_jitter_s
                metrics["last_call_send_max_gap_ms"] = 1000 * self._last_send.max_interval_s
        return ChannelStatus(
            name=self.name,
            state=self._state,
            detail=self._detail,
            since=self._since,
            metrics=metrics,
        )

    # -- endpoint wiring --------------------------------------------------------------------------
    def _make_endpoint(self, password: str, instance: str) -> SipEndpoint:
        s = self._settings
        return SipEndpoint(
            bind_host=s.bind_host,
            bind_port=s.bind_port,
            rtp_port_low=s.rtp_port_low,
            rtp_port_high=s.rtp_port_high,
            server=s.server,
            server_port=s.server_port,
            username=s.username,
            password=password,
            registering=s.mode == "register",
            register_expires_s=s.register_expires_s,
            instance_uuid=instance,
            trunk_peers=list(s.trunk_peers),
            invite_rate_per_s=s.invite_rate_per_s,
            invite_burst=s.invite_burst,
            screen=self._screen,
            on_call=self._on_call,
            refused=self._refused,
            released=self._released,
            recorder_factory=self._new_recorder,
            user_agent=s.user_agent,
            keepalive_s=s.keepalive_s,
        )

    def _new_recorder(self) -> Recorder:
        s = self._settings
        return Recorder(
            max_message_s=s.max_message_s,
            silence_stop_s=s.silence_stop_s,
            rtp_timeout_s=s.rtp_timeout_s,
        )

    def _instance_uuid(self) -> str:
        path = self._settings.state_dir / "instance-uuid"
        try:
            return str(uuid.UUID(path.read_text().strip()))
        except (OSError, ValueError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        value = str(uuid.uuid4())
        write_durably(path, value.encode())
        return value

    def _set_state(self, state: ChannelState, detail: str = "") -> None:
        if state != self._state:
            self._since = self._clock()
        self._state, self._detail = state, detail

    def _refresh_state(self) -> LineState | None:
        endpoint = self._endpoint
        if endpoint is None:
            return None
        where = f"{self._settings.server}:{self._settings.server_port}"
        try:
            line = endpoint.state()
        except ChannelAuthFailed as exc:
            self._set_state(ChannelState.MISCONFIGURED, str(exc))
            return None
        match line:
            case LineState.UP:
                self._set_state(ChannelState.UP)
            case LineState.REGISTERING:
                self._set_state(ChannelState.DEGRADED, f"registering with {where}")
            case LineState.FAILED:
                self._set_state(ChannelState.DOWN, f"registration with {where} failed; retrying")
            case _:
                self._set_state(ChannelState.DOWN, "SIP endpoint stopped")
        return line

    async def _monitor_loop(self) -> None:
        # pyVoIP gives up after 3 failed REGISTERs and closes its socket; bring it back.
        failed_since: float | None = None
        while True:
            await asyncio.sleep(1.0)
            endpoint = self._endpoint
            if endpoint is None:
                return
            if self._refresh_state() != LineState.FAILED:
                failed_since = None
                continue
            failed_since = failed_since or time.monotonic()
            if time.monotonic() - failed_since < _REREGISTER_BACKOFF_S:
                continue
            replacement = await asyncio.to_thread(self._make_endpoint, self._password, self._instance)
            try:
                await asyncio.to_thread(endpoint.stop)
                await asyncio.to_thread(replacement.start)
            except OSError as exc:
                log.warning("SIP endpoint restart failed: %s", exc)
                failed_since = time.monotonic()
                continue
            self._endpoint, failed_since = replacement, None

    # -- call screening (SIP receive thread) ------------------------------------------------------
    def _screen(self, info: InviteInfo) -> Refusal | None:
        endpoint = self._endpoint
        if endpoint is not None and not endpoint.accepts_source(info.source):
            return self._refuse(info, FORBIDDEN, CallOutcome.REFUSED, "source not allowed")
        if not info.codecs:
            return self._refuse(info, NOT_ACCEPTABLE, CallOutcome.REFUSED, "no common codec")
        now = self._clock()
        kind = self._kind_at(now)
        if kind == HoursKind.BUSINESS and self._settings.in_hours == "busy":
            return self._refuse(info, BUSY_HERE, CallOutcome.REFUSED, "in hours")
        with self._lock:
            if self._active >= self._settings.max_calls:
                busy = True
            else:
                busy = False
                self._active += 1
                self._ringing[info.call_id] = Ringing(now, time.monotonic(), kind)
        if busy:
            return self._refuse(info, BUSY_HERE, CallOutcome.BUSY, "all lines busy")
        return None

    def _kind_at(self, now: datetime) -> HoursKind:
        try:
            return self._hours(now)
        except Exception:
            # Taking a message is the safe failure: a refused caller is lost, a message is not.
            log.exception("business-hours decision failed; treating the call as after hours")
            return HoursKind.AFTER_HOURS

    def _refuse(self, info: InviteInfo, refusal: Refusal, outcome: CallOutcome, detail: str) -> Refusal:
        with self._lock:
            self._refusals[info.call_id] = Decision(outcome, detail)
        return refusal

    def _refused(self, info: InviteInfo, refusal: Refusal) -> None:
        with self._lock:
            decision = self._refusals.pop(info.call_id, None) or Decision(
                CallOutcome.REFUSED, refusal.status_line
            )
            if info.call_id in self._recently_refused:
                return  # a retransmitted INVITE: refused again, logged once
            self._recently_refused.append(info.call_id)
            self._counters["busy" if decision.outcome == CallOutcome.BUSY else "refused"] += 1
            self._counters["calls"] += 1
        now = self._clock()
        kind = self._kind_at(now)
        log.info(
            "call %s from %s refused (%s): %s",
            short(info.call_id),
            mask_phone(info.caller),
            refusal.status_line,
            decision.detail,
        )
        record = CallRecord(
            call_id=info.call_id,
            caller=info.caller,
            called=info.called or self._settings.called_number,
            started_at=now.astimezone(UTC),
            duration_s=0.0,
            outcome=decision.outcome,
            after_hours=kind != HoursKind.BUSINESS,
            detail=decision.detail,
        )
        inbox = self._inbox
        if inbox is not None:
            self._submit(inbox.record_call(record))

    def _released(self, call_id: str) -> None:
        with self._lock:
            if self._ringing.pop(call_id, None) is not None:
                self._active -= 1
                self._idle.notify_all()

    # -- the call (pyVoIP's per-call thread) ------------------------------------------------------
    def _on_call(self, leg: CallLeg) -> None:
        with self._lock:
            ringing = self._ringing.pop(leg.call_id, None)
        if ringing is None:  # not screened by us (cannot happen unless pyVoIP changes)
            now = self._clock()
            ringing = Ringing(now, time.monotonic(), self._kind_at(now))
            with self._lock:
                self._active += 1
        decision = Decision(CallOutcome.MISSED, "internal error")
        try:
            decision = self._converse(leg, ringing)
        except Exception:
            log.exception("call %s failed", short(leg.call_id))
        finally:
            leg.hangup()
            self._finish(leg, ringing, decision)

    def _finish(self, leg: CallLeg, ringing: Ringing, decision: Decision) -> None:
        record = CallRecord(
            call_id=leg.call_id,
            caller=leg.info.caller,
            called=leg.info.called or self._settings.called_number,
            started_at=ringing.started_at.astimezone(UTC),
            duration_s=round(time.monotonic() - ringing.started_mono, 2),
            outcome=decision.outcome,
            after_hours=ringing.kind != HoursKind.BUSINESS,
            detail=decision.detail,
        )
        if leg.codec is not None and leg.send_stats.frames:
            with self._lock:
                self._last_send = leg.send_stats
        try:
            inbox = self._inbox
            if inbox is not None:
                self._call_core(inbox.record_call(record), CORE_TIMEOUT_S)
        except Exception as exc:
            log.warning("call log entry for %s not recorded: %r", short(leg.call_id), exc)
        finally:
            with self._lock:
                self._active -= 1
                self._counters["calls"] += 1
                self._idle.notify_all()

    # -- crossing into the loop -------------------------------------------------------------------
    def _call_core(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise RuntimeError("event loop is gone")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def _submit(self, coro: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            return
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        future.add_done_callback(log_failure)

    def _wait_idle(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._active > 0 and time.monotonic() < deadline:
                self._idle.wait(0.1)

    # -- quarantine -------------------------------------------------------------------------------
    def _quarantine(self, contact: InboundContact) -> Path:
        path = Quarantine(self._settings.state_dir / "quarantine").keep(contact)
        with self._lock:
            self._counters["quarantined"] += 1
        return path

    async def _quarantine_loop(self) -> None:
        while True:
            await self.reingest_quarantine()
            await asyncio.sleep(self._settings.quarantine_retry_s)

    async def reingest_quarantine(self) -> int:
        """Hand quarantined recordings to the inbox again; each is deleted only after ingest."""
        inbox = self._inbox
        if inbox is None:
            return 0
        done = 0
        for sidecar in await asyncio.to_thread(self._quarantined):
            try:
                contact = await asyncio.to_thread(load_entry, sidecar)
            except (OSError, ValueError, KeyError) as exc:
                log.error("unreadable quarantine entry %s: %r", sidecar.name, exc)
                continue
            try:
                # Not wait_for: on Python 3.11 it can swallow the channel's cancellation at stop.
                async with asyncio.timeout(self._settings.ingest_timeout_s):
                    await inbox.ingest(contact)
            except Exception as exc:
                log.warning("quarantined voicemail %s still not ingested: %r", sidecar.name, exc)
                continue
            await asyncio.to_thread(remove_entry, sidecar)
            with self._lock:
                self._counters["quarantined"] = max(0, self._counters["quarantined"] - 1)
            log.info("quarantined voicemail %s ingested", sidecar.name)
            done += 1
        return done

    def _quarantined(self) -> list[Path]:
        return Quarantine(self._settings.state_dir / "quarantine").entries()
