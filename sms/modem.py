"""The one owner of the GSM modem: one gammu StateMachine on one dedicated thread, async API.

A watchdog Abort()s calls stuck past `call_timeout_s`; a dropped link disposes the state
machine and reconnects with exponential backoff (a gammu StateMachine is not reusable after a link error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import gammu

from channels.base import (
    ChannelAuthFailed,
    ChannelMisconfigured,
    ChannelUnavailable,
    DeliveryFailed,
)
from channels.clock import utc_now
from sms import codec
from sms.settings import SmsSettings

log = logging.getLogger(__name__)
_PROBE_LOCATIONS = 1000  # more than a SIM or a modem's own memory holds

P = ParamSpec("P")
T = TypeVar("T")

LINK_ERRORS: tuple[type[Exception], ...] = (
    gammu.ERR_TIMEOUT, gammu.ERR_ABORTED, gammu.ERR_NOTCONNECTED, gammu.ERR_DEVICENOTEXIST,
    gammu.ERR_DEVICEOPENERROR, gammu.ERR_DEVICEBUSY, gammu.ERR_DEVICELOCKED,
    gammu.ERR_DEVICENOPERMISSION, gammu.ERR_DEVICEREADERROR, gammu.ERR_DEVICEWRITEERROR,
    gammu.ERR_DEVICENOTWORK, gammu.ERR_UNKNOWNRESPONSE,
)  # fmt: skip
CONFIG_ERRORS: tuple[type[Exception], ...] = (
    gammu.ERR_UNKNOWNMODELSTRING, gammu.ERR_UNKNOWNCONNECTIONTYPESTRING,
    gammu.ERR_DISABLED, gammu.ERR_NOTSUPPORTED,
)  # fmt: skip
# A submit the network refused for good; anything else unknown is retried by the outbox.
PERMANENT_SEND_ERRORS: tuple[type[Exception], ...] = (
    gammu.ERR_INVALIDDATA, gammu.ERR_NOTSUPPORTED, gammu.ERR_MOREMEMORY,
)  # fmt: skip
HEALTHY_NETWORK_STATES = frozenset({"HomeNetwork", "RoamingNetwork"})


@dataclass(frozen=True, slots=True)
class ModemHealth:
    signal_percent: int  # -1 when the modem does not know
    network_state: str  # gammu's NetworkInfo State: HomeNetwork, RoamingNetwork, NoNetwork, ...
    network_name: str

    @property
    def registered(self) -> bool:
        return self.network_state in HEALTHY_NETWORK_STATES


def gammu_config(settings: SmsSettings) -> dict[str, str]:
    config = {
        "Model": settings.model,
        "Connection": settings.connection,
        "Device": settings.device,
    }
    if settings.debug_file:
        config.update(DebugFile=settings.debug_file, DebugLevel="textall")
    return config


def _error_name(exc: BaseException) -> str:
    return type(exc).__name__


class _Watchdog:
    """Abort()s the state machine when a call outlives its deadline.

    One long-lived thread instead of a Timer per call: a poll makes thousands of calls.
    Abort() is the one gammu method that is safe from another thread (it takes no lock).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._target: Any = None
        self._deadline = 0.0
        self._timeout_s = 0.0
        self._generation = 0  # bumped by stop(): an old thread exits, a new one may start
        self._running = False

    def arm(self, sm: Any, timeout_s: float) -> None:
        with self._cond:
            if not self._running:
                self._running = True
                threading.Thread(
                    target=self._run, args=(self._generation,), name="gammu-watchdog", daemon=True
                ).start()
            self._target, self._timeout_s = sm, timeout_s
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._target = None

    def stop(self) -> None:
        with self._cond:
            self._generation += 1
            self._running, self._target = False, None
            self._cond.notify_all()

    def _run(self, generation: int) -> None:
        with self._cond:
            while generation == self._generation:
                if self._target is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                log.warning("modem call stuck for %.0f s: aborting it", self._timeout_s)
                self._target.Abort()
                self._target = None


class _Link:
    """The StateMachine and its reconnect state. Used from the modem thread only."""

    def __init__(self, settings: SmsSettings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self.sm: Any = None
        self.retry_at: datetime | None = None
        self.backoff_s = settings.reconnect_backoff_min_s
        self.failures = 0
        self.watchdog = _Watchdog()

    @property
    def is_dummy(self) -> bool:
        return self.settings.model == "dummy"

    def _guarded(self, sm: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.watchdog.arm(sm, self.settings.call_timeout_s)
        try:
            return fn(*args, **kwargs)
        finally:
            self.watchdog.disarm()

    @staticmethod
    def _dispose(sm: Any) -> None:
        # Abort first: Terminate() after a failed Init on a silent port blocks ~7 minutes,
        # and an aborted object must never be reused (libgammu never clears s->Abort).
        sm.Abort()
        with contextlib.suppress(gammu.GSMError):
            sm.Terminate()

    def _link_failed(self, reason: str) -> ChannelUnavailable:
        self.failures += 1
        self.retry_at = self.clock() + timedelta(seconds=self.backoff_s)
        self.backoff_s = min(self.backoff_s * 2, self.settings.reconnect_backoff_max_s)
        return ChannelUnavailable(f"modem down: {reason}")

    def drop(self, reason: str) -> ChannelUnavailable:
        sm, self.sm = self.sm, None
        if sm is not None:
            self._dispose(sm)
        return self._link_failed(reason)

    def _check_device(self) -> None:
        # The dummy driver reads a vanished directory as an empty phone; a real modem would
        # answer ERR_DEVICENOTEXIST, so say that.
        if self.is_dummy and not Path(self.settings.device).is_dir():
            raise self.drop("ERR_DEVICENOTEXIST (dummy directory missing)")

    def connect(self) -> None:
        if self.sm is not None:
            return
        if self.retry_at is not None and self.clock() < self.retry_at:
            raise ChannelUnavailable(f"modem down, next reconnect at {self.retry_at:%H:%M:%S}")
        if self.is_dummy and self.settings.create_dummy_dir:
            for folder in range(1, 6):
                (Path(self.settings.device) / "sms" / str(folder)).mkdir(parents=True, exist_ok=True)
        elif self.is_dummy and not Path(self.settings.device).is_dir():
            # libgammu reports this as ERR_DEVICENOPERMISSION, which misleads.
            raise ChannelMisconfigured(f"dummy modem directory {self.settings.device} missing")
        sm = gammu.StateMachine()
        try:
            sm.SetConfig(0, gammu_config(self.settings))
            self._guarded(sm, sm.Init)
            self._unlock_sim(sm)
        except CONFIG_ERRORS as exc:
            self._dispose(sm)
            raise ChannelMisconfigured(f"modem config rejected: {_error_name(exc)}") from None
        except gammu.ERR_SECURITYERROR:
            self._dispose(sm)
            raise ChannelAuthFailed("SIM refused the PIN") from None
        except (ChannelMisconfigured, ChannelAuthFailed):
            self._dispose(sm)
            raise
        except gammu.GSMError as exc:
            self._dispose(sm)
            raise self._link_failed(f"connect: {_error_name(exc)}") from None
        self.sm = sm
        self.retry_at = None
        self.backoff_s = self.settings.reconnect_backoff_min_s
        log.info("modem connected (%s/%s)", self.settings.model, self.settings.connection)

    def _unlock_sim(self, sm: Any) -> None:
        needed = self._guarded(sm, sm.GetSecurityStatus)
        if needed is None:
            return
        if needed != "PIN":
            raise ChannelAuthFailed(f"SIM needs {needed}")
        pin = os.environ.get(self.settings.pin_env)
        if not pin:
            raise ChannelMisconfigured(f"SIM needs a PIN; set {self.settings.pin_env}")
        self._guarded(sm, sm.EnterSecurityCode, "PIN", pin)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.connect()
        self._check_device()
        try:
            return self._guarded(self.sm, getattr(self.sm, name), *args, **kwargs)
        except LINK_ERRORS as exc:
            raise self.drop(f"{name}: {_error_name(exc)}") from None

    def close(self) -> None:
        sm, self.sm = self.sm, None
        if sm is not None:
            try:
                self._guarded(sm, sm.Terminate)
            except gammu.GSMError:
                self._dispose(sm)
        self.watchdog.stop()


class Modem:
    """Async facade over the modem thread. Share one instance between channel and notifier."""

    def __init__(self, settings: SmsSettings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._clock = clock
        self._link = _Link(settings, clock)
        self._executor: ThreadPoolExecutor | None = None
        self._sent_seq = 0
        self.unreadable: set[int] = set()  # locations python-gammu cannot convert (kept on the modem)
        self.last_error = ""

    @property
    def connected(self) -> bool:
        return self._link.sm is not None

    @property
    def link_failures(self) -> int:
        return self._link.failures

    @property
    def retry_at(self) -> datetime | None:
        return self._link.retry_at

    async def _on_thread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            raise ChannelUnavailable("modem is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        except ChannelUnavailable as exc:
            self.last_error = str(exc)
            raise

    async def open(self) -> None:
        """Start the modem thread and connect; raises ChannelError when the modem is not usable."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gammu-modem")
        await self._on_thread(self._link.connect)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        sm = self._link.sm
        future = asyncio.get_running_loop().run_in_executor(executor, self._link.close)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.settings.call_timeout_s + 5)
        except TimeoutError:
            if sm is not None:
                sm.Abort()  # the only gammu call that is safe from another thread
        executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a pure codec function on the modem thread (libgammu's static buffers)."""
        return await self._on_thread(fn, *args, **kwargs)

    def _read_all_blocking(self) -> list[codec.SmsPart]:
        found: list[codec.SmsPart] = []
        previous: int | None = None
        undecodable: set[int] = set()
        try:
            while True:
                try:
                    if previous is None:
                        batch = self._link.call("GetNextSMS", Folder=0, Start=True)
                    else:
                        batch = self._link.call("GetNextSMS", Folder=0, Location=previous)
                except ValueError:
                    # python-gammu cannot convert this SMS (a timestamp like 31 February from the
                    # network): step over it, or every SMS after it would stay unread for good.
                    skipped = self._unreadable_after(previous)
                    if skipped is None:
                        break
                    undecodable.add(skipped)
                    previous = skipped
                    continue
                found.extend(codec.to_part(raw) for raw in batch)
                previous = int(batch[0]["Location"])
        except gammu.ERR_EMPTY:
            pass
        except gammu.GSMError as exc:
            raise ChannelUnavailable(f"reading SMS failed: {_error_name(exc)}") from None
        self.unreadable = undecodable  # one taken off the SIM by hand is no longer reported
        return found

    def _unreadable_after(self, previous: int | None) -> int | None:
        """Location of the unconvertible SMS that follows `previous`, found by reading locations one
        by one (GetSMS is exact and cheap); it stays on the modem, listed in `unreadable`."""
        known = {loc for loc in self.unreadable if previous is None or loc > previous}
        # SIM and phone memories count from 1; Gammu's dummy numbers them folder × 10000 + n.
        starts = [previous + 1] if previous is not None else [1, 10001]
        scan = {loc for start in starts for loc in range(start, start + _PROBE_LOCATIONS)}
        # In location order: a known bad SMS further on must not hide a new one before it (and
        # the good SMS between the two).
        for location in sorted(known | scan):
            try:
                self._link.call("GetSMS", Folder=0, Location=location)
            except ValueError:
                if location not in self.unreadable:
                    log.error("SMS at modem location %d cannot be decoded; it is kept there", location)
                return location
            except (gammu.ERR_EMPTY, gammu.ERR_INVALIDLOCATION):
                pass
        log.error("an SMS after location %s cannot be decoded and was not found; reading stops", previous)
        return None

    async def read_all(self) -> list[codec.SmsPart]:
        """Every SMS location the modem holds (all folders), one SmsPart per PDU."""
        return await self._on_thread(self._read_all_blocking)

    def _delete_blocking(self, locations: Sequence[int]) -> int:
        deleted = 0
        for location in locations:
            try:
                self._link.call("DeleteSMS", Folder=0, Location=location)
                deleted += 1
            except gammu.ERR_EMPTY:
                pass  # already gone: a re-read after a crash, or the SIM was cleaned by hand
            except gammu.GSMError as exc:
                raise ChannelUnavailable(f"deleting SMS failed: {_error_name(exc)}") from None
        return deleted

    async def delete(self, locations: Iterable[int]) -> int:
        return await self._on_thread(self._delete_blocking, list(locations))

    def _record_sent(self, part: codec.GammuSms, reference: int) -> None:
        sent_dir = Path(self.settings.device) / "sent"
        sent_dir.mkdir(exist_ok=True)
        self._sent_seq += 1
        now = self._clock()
        srr = "-srr" if part.get("Type") == "Status_Report" else ""
        name = f"{now:%Y%m%dT%H%M%S%f}-{os.getpid()}-{self._sent_seq:06d}{srr}"
        copy = dict(part, Type="Submit", State="Sent", Folder=2, DateTime=now,
                    SMSCDateTime=now, MessageReference=reference)  # fmt: skip
        tmp = sent_dir / f".{name}.tmp"
        codec.save_backup(tmp, [copy])
        tmp.rename(sent_dir / name)

    def _send_blocking(self, parts: Sequence[codec.GammuSms]) -> list[int]:
        references: list[int] = []
        for part in parts:
            try:
                reference = int(self._link.call("SendSMS", part))
            except ChannelUnavailable as exc:
                raise DeliveryFailed(
                    f"modem down after {len(references)}/{len(parts)} parts: {exc}",
                    permanent=False,
                ) from None
            except PERMANENT_SEND_ERRORS as exc:
                raise DeliveryFailed(f"SMS refused: {_error_name(exc)}", permanent=True) from None
            except gammu.GSMError as exc:
                raise DeliveryFailed(f"SMS not sent: {_error_name(exc)}", permanent=False) from None
            references.append(reference)
            if self._link.is_dummy and self.settings.record_sent:
                self._record_sent(part, reference)
        return references

    async def send(self, pdu_parts: Sequence[codec.GammuSms]) -> list[int]:
        """Submit the parts in order; returns each part's TP-MR. Raises DeliveryFailed."""
        try:
            return await self._on_thread(self._send_blocking, list(pdu_parts))
        except ChannelUnavailable as exc:
            raise DeliveryFailed(str(exc), permanent=False) from None

    def _health_blocking(self) -> ModemHealth:
        # Link errors raise ChannelUnavailable from call(); a modem that merely cannot answer
        # one of these questions reports "unknown", which the channel shows as degraded.
        try:
            signal = self._link.call("GetSignalQuality")
        except gammu.GSMError:
            signal = {}
        try:
            network = self._link.call("GetNetworkInfo")
        except gammu.GSMError:
            network = {}
        return ModemHealth(
            signal_percent=int(signal.get("SignalPercent", -1)),
            network_state=str(network.get("State", "Unknown")),
            network_name=str(network.get("NetworkName", "")),
        )

    async def health(self) -> ModemHealth:
        return await self._on_thread(self._health_blocking)

    def _ask_blocking(self, names: Sequence[str]) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for name in names:
            try:
                answers[name] = self._link.call(name)
            except gammu.GSMError as exc:
                answers[name] = _error_name(exc)  # the question alone failed; the link is fine
            except ChannelUnavailable as exc:
                answers[name] = str(exc)  # the link dropped: the rest would only wait for a reconnect
                break
        return answers

    async def ask(self, *names: str) -> dict[str, Any]:
        """Answers of gammu getters by name (GetModel, GetSMSC, ...), or the error name of one that
        failed; for `sistem48 modem check`."""
        return await self._on_thread(self._ask_blocking, names)
