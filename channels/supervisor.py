"""Runs the channels: starts each, retries transient failures with jittered backoff, stops them all.

A channel that fails never takes the others down; its state is what /healthz shows.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from channels.base import (
    Channel,
    ChannelAuthFailed,
    ChannelMisconfigured,
    ChannelState,
    ChannelStatus,
    ChannelUnavailable,
    Inbox,
)

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(
        self,
        channels: Sequence[Channel],
        inbox: Inbox,
        *,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 60.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.channels = list(channels)
        self.inbox = inbox
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng
        self._failures: dict[str, ChannelStatus] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started: set[str] = set()

    async def start(self) -> None:
        """Start every channel; returns once each is up or has failed once (retries continue)."""
        firsts = []
        for channel in self.channels:
            first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._tasks.append(asyncio.create_task(self._keep_started(channel, first)))
            firsts.append(first)
        await asyncio.gather(*firsts)

    async def _keep_started(self, channel: Channel, first: asyncio.Future[None]) -> None:
        delay = self.backoff_min_s
        while True:
            try:
                await channel.start(self.inbox)
            except ChannelUnavailable as exc:
                self._failed(channel, ChannelState.DOWN, f"unavailable: {exc}")
                if not first.done():
                    first.set_result(None)
                await asyncio.sleep(delay * (0.5 + self._rng()))
                delay = min(self.backoff_max_s, delay * 2)
                continue
            except (ChannelMisconfigured, ChannelAuthFailed) as exc:
                state = ChannelState.MISCONFIGURED
                self._failed(channel, state, f"{type(exc).__name__}: {exc}")
                log.error("channel %s stopped: %s", channel.name, exc)
            except Exception as exc:
                self._failed(channel, ChannelState.DOWN, f"crashed: {type(exc).__name__}: {exc}")
                log.exception("channel %s crashed while starting", channel.name)
            else:
                self._failures.pop(channel.name, None)
                self._started.add(channel.name)
                log.info("channel %s started", channel.name)
            if not first.done():
                first.set_result(None)
            return

    def _failed(self, channel: Channel, state: ChannelState, detail: str) -> None:
        self._failures[channel.name] = ChannelStatus(channel.name, state, detail, since=datetime.now(UTC))

    def statuses(self) -> list[ChannelStatus]:
        out = []
        for channel in self.channels:
            failure = self._failures.get(channel.name)
            out.append(failure if failure is not None else channel.status())
        return out

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self.channels:
            try:
                await channel.stop()
            except Exception:
                log.exception("channel %s did not stop cleanly", channel.name)
