"""Signed webhooks (httpx) for utilities that want their work orders pushed: the outbox worker's
notifier for `webhook` rows, which gateway/outbox.py composes."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime

import httpx

from channels.base import DeliveryFailed, DeliveryReceipt, Notification
from gateway.config import Config, WorkOrderSettings
from gateway.outbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_CHANNEL

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WEBHOOK_CHANNEL", "WebhookNotifier", "sign_webhook"]


def sign_webhook(secret: bytes, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp.body", so a captured request cannot be replayed later unnoticed."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs webhook outbox rows; 2xx is done, 408/429/5xx and network errors are retried."""

    def __init__(self, config: Config, settings: WorkOrderSettings, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.settings = settings
        self.clock = clock

    def _secret(self, utility_code: str | None) -> bytes:
        utility = self.config.utility(utility_code)
        if utility is None or not utility.webhook_secret_env:
            raise DeliveryFailed("the utility has no webhook_secret_env", permanent=True)
        value = os.environ.get(utility.webhook_secret_env)
        if not value:
            # Temporary: the row waits in the outbox until the operator sets the variable.
            raise DeliveryFailed(f"{utility.webhook_secret_env} is not set", permanent=False)
        return value.encode()

    async def send(self, n: Notification) -> DeliveryReceipt | None:
        secret = self._secret(n.meta.get("utility"))
        body = n.body.encode()
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_webhook(secret, timestamp, body),
            "X-Sistem48-Delivery": str(n.outbox_id),  # the receiver's idempotency key across retries
            "X-Sistem48-Event": n.meta.get("event", ""),
        }
        try:
            async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_s) as client:
                response = await client.post(n.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook: {type(exc).__name__}", permanent=False) from None
        if 200 <= response.status_code < 300:
            return DeliveryReceipt(provider_ref=response.headers.get("X-Request-Id"))
        retry = response.status_code in (408, 429) or response.status_code >= 500
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}", permanent=not retry)
