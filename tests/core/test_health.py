"""/healthz reports what is not a channel: a relay refusing our mail, a full blob disk; both heal."""

from __future__ import annotations

import asyncio
import errno
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import build_gateway, create_app
from gateway.health import DeliveryHealth
from storage.blobs import BlobStore
from tests.conftest import make_config
from tests.mail.conftest import CollectingRelay, citizen_mail, running_relay

ADDRESS = "sistem48@sistem48.localhost"


def _now() -> datetime:
    return datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_one_permanent_failure_is_the_recipients_fault_three_in_a_row_are_the_relays() -> None:
    health = DeliveryHealth(_now)
    health.failed("email", "550 5.1.1 no such user", permanent=True)
    health.failed("email", "550 5.1.1 no such user", permanent=True)
    assert health.healthy()
    health.failed("email", "554 5.7.1 relay access denied", permanent=True)
    assert not health.healthy()
    assert health.snapshot()["email"]["detail"] == "refusing: 554 5.7.1 relay access denied"
    health.sent("email")
    assert health.healthy() and health.snapshot()["email"]["state"] == "up"


def test_a_temporary_failure_degrades_only_its_medium_until_the_next_delivery() -> None:
    health = DeliveryHealth(_now)
    health.sent("sms")
    health.failed("email", "451 4.3.0 try later", permanent=False)
    snapshot = health.snapshot()
    assert snapshot["email"]["state"] == "degraded" and snapshot["sms"]["state"] == "up"
    health.sent("email")
    assert health.healthy()


def test_relay_answering_4xx_shows_on_healthz_and_heals_when_it_takes_mail_again(
    tmp_path: Path, db_url: str, clock: Any
) -> None:
    async def scenario() -> None:
        relay = CollectingRelay(data_reply="451 4.3.2 System not accepting network messages")
        async with running_relay(relay) as relay_settings:
            cfg = make_config(tmp_path, db_url)
            cfg.mail.enabled = True
            cfg.mail.relay = relay_settings
            gw = build_gateway(cfg, clock=clock, roles={"outbox"})
            from mail.intake import contact_from_bytes

            raw = citizen_mail("Ne radi sijalica.", to=ADDRESS)
            contact = contact_from_bytes(
                raw, received_at=clock(), mail_from="pera@example.rs", rcpt_tos=(ADDRESS,)
            )
            await gw.inbox.ingest(contact)  # queues the acknowledgement
            client = TestClient(create_app(cfg, gateway=gw))
            assert gw.outbox is not None
            await gw.outbox.run_once()
            body = (await asyncio.to_thread(client.get, "/healthz")).json()
            assert body["status"] == "degraded" and body["outbound"]["email"]["state"] == "degraded"
            assert body["outbound"]["email"]["detail"] == "failing temporarily: relay answered 451"
            assert body["channels"] == {} and body["database"] == "up"  # nothing else is blamed

            relay.data_reply = None
            clock.advance(minutes=30)  # past the retry backoff
            await gw.outbox.run_once()
            assert len(relay.received) == 1
            response = await asyncio.to_thread(client.get, "/healthz")
            assert response.status_code == 200 and response.json()["outbound"]["email"]["state"] == "up"
            gw.engine.dispose()

    asyncio.run(scenario())


def test_a_full_blob_disk_degrades_the_store_and_heals_once_room_is_free(small_disk: Path) -> None:
    blobs = BlobStore(small_disk)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (2 * 1024 * 1024 - 64 * 1024))
    with pytest.raises(OSError) as full:
        blobs.put(os.urandom(256 * 1024))
    assert full.value.errno == errno.ENOSPC
    health = blobs.health()
    assert health["state"] == "degraded" and "ENOSPC" in health["detail"]
    assert list((small_disk / "tmp").iterdir()) == []  # no half-written temp file left behind
    filler.unlink()
    assert blobs.health()["state"] == "up"  # healed by free space alone, before any new write
    digest = blobs.put(b"photo")
    assert blobs.get(digest) == b"photo"


def test_a_nearly_full_blob_disk_is_reported_before_a_write_fails(small_disk: Path) -> None:
    blobs = BlobStore(small_disk)
    assert blobs.health()["state"] == "up"
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (2 * 1024 * 1024 - 64 * 1024))  # under 5 % of the 2 MiB disk left
    health = blobs.health()
    assert health["state"] == "degraded" and health["detail"].startswith("disk nearly full")
    filler.unlink()
    assert blobs.health()["state"] == "up"
