"""Singleton duties across processes: one lease holder, renewal, takeover after the holder dies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.lease import release, try_acquire

TTL = timedelta(seconds=30)


def test_only_one_owner_holds_the_lease(gateway: Any) -> None:
    now = gateway.clock()
    assert try_acquire(gateway.engine, "channel:sms", "box-a", now, TTL)
    assert not try_acquire(gateway.engine, "channel:sms", "box-b", now, TTL)
    assert try_acquire(gateway.engine, "channel:sms", "box-a", now + timedelta(seconds=10), TTL)


def test_lease_is_taken_over_when_the_owner_stops_renewing(gateway: Any) -> None:
    now = gateway.clock()
    assert try_acquire(gateway.engine, "channel:sip", "box-a", now, TTL)
    assert not try_acquire(gateway.engine, "channel:sip", "box-b", now + timedelta(seconds=29), TTL)
    assert try_acquire(gateway.engine, "channel:sip", "box-b", now + timedelta(seconds=31), TTL)
    assert not try_acquire(gateway.engine, "channel:sip", "box-a", now + timedelta(seconds=32), TTL)


def test_released_lease_is_free_at_once(gateway: Any) -> None:
    now = gateway.clock()
    assert try_acquire(gateway.engine, "channel:sms", "box-a", now, TTL)
    release(gateway.engine, "channel:sms", "box-a")
    assert try_acquire(gateway.engine, "channel:sms", "box-b", now, TTL)


def test_a_killed_holder_on_this_host_is_replaced_at_once_a_live_one_is_not(gateway: Any) -> None:
    import os
    import socket
    import subprocess

    now = gateway.clock()
    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs (reaped), as after a SIGKILL
    assert try_acquire(gateway.engine, "channel:sms", f"sistem48@{host}:{dead.pid}", now, TTL)
    assert try_acquire(gateway.engine, "channel:sms", f"sistem48@{host}:{os.getpid()}", now, TTL)
    # Now held by this live process: another one must wait, and so must one on another box.
    assert not try_acquire(gateway.engine, "channel:sms", f"sistem48@{host}:1", now, TTL)
    assert try_acquire(gateway.engine, "channel:sip", f"sistem48@elsewhere:{dead.pid}", now, TTL)
    assert not try_acquire(gateway.engine, "channel:sip", f"sistem48@{host}:{os.getpid()}", now, TTL)
