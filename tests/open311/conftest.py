"""Fixtures for Open311, the status page and work orders: a gateway with mail and SMS on, API tokens,
photos carrying EXIF GPS and a camera name, and a collecting SMTP relay (a real aiosmtpd server)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from PIL import Image
from PIL.ExifTags import IFD, Base

from gateway.app import create_app
from gateway.auth import create_token
from storage.db import session_scope

PHONE, EMAIL, NAME = "+381641234567", "pera.peric@example.rs", "Pera Perić"
CAMERA = "PericPhone-9000"
GPS = (44.82, 20.46)


def photo_with_exif(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A JPEG whose EXIF carries GPS (Belgrade) and a camera maker string that must never leak."""
    exif = Image.Exif()
    exif[Base.Make] = CAMERA
    exif[Base.Artist] = NAME
    exif[IFD.GPSInfo] = {1: "N", 2: (44.0, 49.0, 12.0), 3: "E", 4: (20.0, 27.0, 36.0)}
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@dataclass
class Env:
    gw: Any
    client: TestClient
    headers: dict[str, dict[str, str]]
    keys: dict[str, str]


@pytest.fixture
def env(gateway: Any) -> Iterator[Env]:
    gateway.config.sms.enabled = True
    gateway.config.mail.enabled = True
    with session_scope(gateway.engine, write=True) as s:
        keys = {
            "app": create_token(s, name="city-app", role="app"),
            "operator": create_token(s, name="o", role="operator"),
            "rasveta": create_token(s, name="r", role="utility", utility="rasveta"),
        }
    headers = {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    with TestClient(create_app(gateway.config, gateway=gateway)) as client:
        yield Env(gateway, client, headers, keys)


@dataclass
class CollectingRelay:
    """Stands in for the municipal SMTP relay: keeps every message handed to it."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.original_content is not None
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"


@asynccontextmanager
async def running_relay(relay: CollectingRelay) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(relay, hostname="relay.test"), "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
