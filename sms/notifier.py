"""Outbound SMS: encodes per the deployment's policy, paces submissions for a modem, sends.

Each PDU counts against `send_per_minute`; a caller over the limit waits instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from channels.base import ChannelError, DeliveryFailed, DeliveryReceipt, Notification
from channels.clock import utc_now
from channels.phone import read_phone
from channels.privacy import mask_phone
from sms import codec, kinds
from sms.modem import Modem
from sms.settings import SmsSettings

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=1)


class SmsNotifier:
    def __init__(
        self,
        settings: SmsSettings,
        modem: Modem,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.modem = modem
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._submitted: deque[datetime] = deque()
        # Per recipient, not from the clock: libgammu's clock-based reference repeats within a
        # second, and two long SMS to one phone with one reference get mixed up by the handset.
        self._next_ref: dict[str, int] = {}

    def _recipient(self, raw: str) -> str:
        number = read_phone(raw, self.settings.default_region)
        if number is None:
            raise DeliveryFailed("recipient is not a phone number", permanent=True)
        if not number.valid:
            raise DeliveryFailed("recipient is not a valid phone number", permanent=True)
        s = self.settings
        refusal = kinds.reply_refusal(raw, s.default_region, s.reply_regions, s.reply_mobile_only)
        if refusal is not None:
            raise DeliveryFailed(f"recipient not allowed by sms.reply_*: {refusal}", permanent=True)
        return number.e164

    def _concat_ref(self, recipient: str) -> int:
        ref = self._next_ref.get(recipient)
        if ref is None:
            ref = self._rng.randrange(256)
        self._next_ref[recipient] = (ref + 1) % 256
        return ref

    async def _wait_for_slot(self) -> None:
        """Sliding one-minute window of submitted PDUs; sleeps until one more fits."""
        while True:
            now = self._clock()
            while self._submitted and now - self._submitted[0] >= WINDOW:
                self._submitted.popleft()
            if len(self._submitted) < self.settings.send_per_minute:
                return
            await self._sleep(max((self._submitted[0] + WINDOW - now).total_seconds(), 0.001))

    async def send(self, n: Notification) -> DeliveryReceipt:
        recipient = self._recipient(n.recipient)
        text = codec.prepare_text(n.body, self.settings.encoding_policy)
        async with self._lock:
            try:
                await self.modem.open()
                parts = await self.modem.run(
                    codec.build_submit, text, recipient,
                    concat_ref=self._concat_ref(recipient),
                    status_report=self.settings.request_delivery_reports,
                )  # fmt: skip
            except ChannelError as exc:
                raise DeliveryFailed(f"modem unavailable: {exc}", permanent=False) from None
            except ValueError as exc:
                raise DeliveryFailed(str(exc), permanent=True) from None
            references: list[int] = []
            for part in parts:
                await self._wait_for_slot()
                references += await self.modem.send([part])
                self._submitted.append(self._clock())
        log.info("SMS to %s sent in %d parts", mask_phone(recipient), len(references))
        return DeliveryReceipt(provider_ref=str(references[-1]))
