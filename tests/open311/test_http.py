"""Over a real socket: an Open311 client posting a photo to uvicorn and reading it back, and the
work-order webhook signed and retried against a receiving server (both on 127.0.0.1, free ports)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import requests
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlmodel import select

from channels.base import ChannelKind, DeliveryFailed, Notification
from gateway.app import create_app
from gateway.photos import gps_from_photo
from gateway.tickets import SYSTEM, Change, Status
from gateway.workorders import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_CHANNEL,
    WebhookNotifier,
    WorkOrderSettings,
)
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.core.helpers import sms
from tests.open311.conftest import CAMERA, EMAIL, PHONE, Env, photo_with_exif


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # uvicorn offers no event for "listening"; the poll is bounded by the test timeout.
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def test_an_open311_client_posts_a_photo_over_http_and_reads_it_back(env: Env) -> None:
    app = create_app(env.gw.config, gateway=env.gw)

    async def client_session() -> None:
        async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
            r = await http.post(
                "/open311/v2/requests.json",
                data={
                    "api_key": env.keys["app"],
                    "service_code": "javna_rasveta",
                    "lat": "44.8125",
                    "long": "20.4612",
                    "description": "Ne radi svetiljka",
                    "email": EMAIL,
                },
                files={"media": ("IMG_0001.jpg", photo_with_exif(), "image/jpeg")},
            )
            assert r.status_code == 201, r.text
            reference = r.json()[0]["service_request_id"]
            item = (await http.get(f"/open311/v2/requests/{reference}.json")).json()[0]
            path = item["media_url"].removeprefix(env.gw.config.gateway.public_base_url)
            photo = await http.get(path)
            assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
            assert gps_from_photo(photo.content) is None and CAMERA.encode() not in photo.content
            xml = await http.get(f"/open311/v2/requests/{reference}.xml")
            assert xml.status_code == 200 and f"<service_request_id>{reference}<" in xml.text

    asyncio.run(client_session())


def test_a_python_requests_client_posting_an_untyped_photo_part_is_accepted(env: Env) -> None:
    """requests' files={"media": f} sends the part without a Content-Type (the issue's client)."""
    app = create_app(env.gw.config, gateway=env.gw)
    photo = photo_with_exif()

    def post(base: str) -> requests.Response:
        form = {"api_key": env.keys["app"], "service_code": "javna_rasveta", "lat": "44.8125",
                "long": "20.4612", "description": "Ne radi svetiljka", "email": EMAIL}  # fmt: skip
        prepared = requests.Request(
            "POST", f"{base}/open311/v2/requests.json", data=form, files={"media": io.BytesIO(photo)}
        ).prepare()
        assert b"Content-Type: image" not in (prepared.body or b"")
        with requests.Session() as session:
            return session.send(prepared, timeout=10)

    async def client_session() -> None:
        async with serving(app) as base:
            r = await asyncio.to_thread(post, base)
            assert r.status_code == 201, r.text
            item = (
                await asyncio.to_thread(
                    requests.get,
                    f"{base}/open311/v2/requests/{r.json()[0]['service_request_id']}.json",
                    timeout=10,
                )
            ).json()[0]
            path = item["media_url"].removeprefix(env.gw.config.gateway.public_base_url)
            served = await asyncio.to_thread(requests.get, f"{base}{path}", timeout=10)
            assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
            assert gps_from_photo(served.content) is None and CAMERA.encode() not in served.content

    asyncio.run(client_session())


class Receiver:
    """A utility's webhook endpoint: answers the queued status codes, keeps what it got."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.app = FastAPI()
        self.app.post("/hook")(self.hook)

    async def hook(self, request: Request) -> Response:
        self.got.append((dict(request.headers), await request.body()))
        return Response(status_code=self.answers.pop(0) if self.answers else 200)


def test_webhook_is_signed_retried_on_5xx_and_dropped_on_4xx(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASVETA_HOOK_SECRET", "tajna")
    receiver = Receiver([503, 200, 400])
    settings = WorkOrderSettings(webhook_timeout_s=5)

    async def run() -> None:
        async with serving(receiver.app) as base:
            utility = env.gw.config.utility("rasveta")
            assert utility is not None
            utility.webhook_url, utility.webhook_secret_env = f"{base}/hook", "RASVETA_HOOK_SECRET"
            reference = env.gw.inbox.ingest_sync(sms(env.gw, PHONE, f"Mrak. {EMAIL}")).reference
            with session_scope(env.gw.engine, write=True) as s:
                ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
                env.gw.tickets.transition(s, ticket, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
                env.gw.tickets.transition(s, ticket, Status.ASSIGNED, SYSTEM, Change())
                s.flush()
                row = s.exec(select(OutboxMessage).where(OutboxMessage.channel == WEBHOOK_CHANNEL)).one()
                n = Notification(
                    outbox_id=row.id or 0, channel=ChannelKind.WEB, recipient=row.recipient,
                    body=row.body, meta={k: str(v) for k, v in row.meta.items()},
                )  # fmt: skip
                assert row.channel == WEBHOOK_CHANNEL
            notifier = WebhookNotifier(env.gw.config, settings, env.gw.clock)
            with pytest.raises(DeliveryFailed) as first:
                await notifier.send(n)
            assert first.value.permanent is False
            await notifier.send(n)
            with pytest.raises(DeliveryFailed) as last:
                await notifier.send(n)
            assert last.value.permanent is True

    asyncio.run(run())
    assert len(receiver.got) == 3
    headers, body = receiver.got[1]
    expected = hmac.new(b"tajna", headers[TIMESTAMP_HEADER.lower()].encode() + b"." + body, hashlib.sha256)
    assert headers[SIGNATURE_HEADER.lower()] == "sha256=" + expected.hexdigest()
    payload = json.loads(body)
    assert payload["event"] == "work_order.assigned" and payload["utility"] == "rasveta"
    assert EMAIL not in body.decode() and "[e-mail skriven]" in payload["description"]
    assert receiver.got[0][0]["x-sistem48-delivery"] == receiver.got[1][0]["x-sistem48-delivery"]


def test_webhook_without_its_secret_waits_in_the_outbox(env: Env) -> None:
    utility = env.gw.config.utility("rasveta")
    assert utility is not None
    utility.webhook_url, utility.webhook_secret_env = "http://127.0.0.1:9/hook", "SISTEM48_UNSET_SECRET_X"
    n = Notification(outbox_id=1, channel=ChannelKind.WEB, recipient=utility.webhook_url, body="{}",
                     meta={"utility": "rasveta"})  # fmt: skip
    notifier = WebhookNotifier(env.gw.config, WorkOrderSettings(), env.gw.clock)
    with pytest.raises(DeliveryFailed) as failed:
        asyncio.run(notifier.send(n))
    assert failed.value.permanent is False and "SISTEM48_UNSET_SECRET_X" in failed.value.reason
