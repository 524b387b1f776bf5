"""Exactly one owner for a singleton duty across processes sharing a database (the modem, the SIP
registration): a lease row taken with a conditional write, renewed while alive, taken over when the
owner stops renewing — or at once when the owner was a process on this machine that no longer exists."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col

from channels.base import Channel, ChannelState, ChannelStatus, ChannelUnavailable, Inbox
from gateway.workers import worker_gone
from storage.db import session_scope
from storage.models import Lease

log = logging.getLogger(__name__)


def try_acquire(engine: sa.Engine, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease; True when `owner` holds it until now + ttl."""
    expires = now + ttl
    with session_scope(engine, write=True) as s:
        taken = s.execute(  # type: ignore[attr-defined]  # an UPDATE's CursorResult has rowcount
            sa.update(Lease)
            .where(col(Lease.name) == name)
            .where(sa.or_(col(Lease.owner) == owner, col(Lease.expires_at) < now))
            .values(owner=owner, expires_at=expires)
        ).rowcount
        if taken:
            return True
        current = s.get(Lease, name)
        if current is not None:
            if not worker_gone(current.owner):
                return False
            # The modem would otherwise stay silent for a whole TTL after a crash and restart.
            log.info("the %s lease holder is gone; taking it over", name)
            return bool(
                s.execute(  # type: ignore[attr-defined]
                    sa.update(Lease)
                    .where(col(Lease.name) == name, col(Lease.owner) == current.owner)
                    .values(owner=owner, expires_at=expires)
                ).rowcount
            )
        try:
            with s.begin_nested():
                s.add(Lease(name=name, owner=owner, expires_at=expires))
        except sa.exc.IntegrityError:
            return False  # another process inserted it first
        return True


def release(engine: sa.Engine, name: str, owner: str) -> None:
    with session_scope(engine, write=True) as s:
        s.execute(sa.delete(Lease).where(col(Lease.name) == name, col(Lease.owner) == owner))


class LeasedChannel:
    """Runs `inner` only while this process holds the lease `name`; otherwise reports standby."""

    def __init__(
        self,
        inner: Channel,
        engine: sa.Engine,
        owner: str,
        clock: Callable[[], datetime],
        *,
        ttl: timedelta = timedelta(seconds=30),
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.engine = engine
        self.owner = owner
        self.clock = clock
        self.ttl = ttl
        self._renewer: asyncio.Task[None] | None = None
        self._lost = False

    @property
    def lease_name(self) -> str:
        return f"channel:{self.name}"

    async def start(self, inbox: Inbox) -> None:
        held = await asyncio.to_thread(
            try_acquire, self.engine, self.lease_name, self.owner, self.clock(), self.ttl
        )
        if not held:
            raise ChannelUnavailable(f"another process owns {self.name}; standing by")
        self._lost = False
        await self.inner.start(inbox)
        self._renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            try:
                held = await asyncio.to_thread(
                    try_acquire, self.engine, self.lease_name, self.owner, self.clock(), self.ttl
                )
            except Exception:  # database briefly away: keep running until the lease would expire
                log.warning("could not renew the %s lease", self.name, exc_info=True)
                continue
            if not held:
                log.error("lost the %s lease to another process; stopping the channel", self.name)
                self._lost = True
                await self.inner.stop()
                return

    async def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
            self._renewer = None
        await self.inner.stop()
        try:
            await asyncio.to_thread(release, self.engine, self.lease_name, self.owner)
        except Exception:
            log.warning("could not release the %s lease", self.name, exc_info=True)

    def status(self) -> ChannelStatus:
        if self._lost:
            return ChannelStatus(self.name, ChannelState.DOWN, "lease lost to another process")
        return self.inner.status()
