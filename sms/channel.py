"""The SMS channel: polls the modem, reassembles multipart SMS per sender, ingests, then deletes.

An SMS leaves the modem only after `inbox.ingest` returned; its external_id is a hash of the SMS
itself, so a re-read after a crash is a duplicate for the core, never a second ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import phonenumbers

from channels.base import (
    ChannelAuthFailed,
    ChannelKind,
    ChannelMisconfigured,
    ChannelState,
    ChannelStatus,
    ChannelUnavailable,
    DeliveryReport,
    DeliveryState,
    InboundContact,
    Inbox,
)
from sms import codec, kinds
from sms.modem import Modem, ModemHealth, utc_now
from sms.settings import SmsSettings

log = logging.getLogger(__name__)

PartialKey = tuple[str, int, int]  # sender as on the wire, concatenation reference, total parts
GAP_MARK = " […] "


def mask_number(number: str) -> str:
    """Enough of a number to tell messages apart in a log, not enough to identify a citizen."""
    return number[:4] + "*" * max(len(number) - 7, 0) + number[-3:] if len(number) > 7 else "***"


def normalise_number(number: str, region: str) -> str | None:
    """E.164 for a phone number (national forms read in `region`); None for alphanumeric senders."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def delivery_state(tp_status: int) -> DeliveryState:
    # 3GPP TS 23.040 §9.2.3.15: 0x00-0x1F completed, 0x20-0x3F SC still trying, else failed.
    if tp_status < 0x20:
        return DeliveryState.DELIVERED
    if tp_status < 0x40:
        return DeliveryState.PENDING
    return DeliveryState.FAILED


@dataclass(frozen=True, slots=True)
class AssembledSms:
    """One citizen's message as far as it arrived: all parts, or the parts of an incomplete set."""

    sender: str  # as on the wire
    parts: tuple[codec.SmsPart, ...]  # ordered by part number
    text: str
    complete: bool
    total: int
    raw: bytes

    @property
    def key(self) -> PartialKey:
        first = self.parts[0]
        return (self.sender, first.concat_ref if first.concat_ref is not None else -1, self.total)

    def external_id(self) -> str:
        digest = hashlib.sha256(self.sender.encode())
        for part in self.parts:
            sent = part.sent_at.isoformat() if part.sent_at else ""
            fields: tuple[object, ...] = (sent, part.concat_ref, part.concat_total, part.concat_seq)
            fields += (part.text,)
            if data := kinds.payload(part):  # 8-bit user data: two MMS notices differ only there
                fields += (data.hex(),)
            digest.update(b"\x1e" + "\x1f".join(map(str, fields)).encode())
        return "sms-" + digest.hexdigest()


def assemble(by_sender: dict[str, list[codec.SmsPart]]) -> list[AssembledSms]:
    """LinkSMS/DecodeSMS per sender; runs on the modem thread (libgammu's static buffers)."""
    assembled: list[AssembledSms] = []
    for sender, parts in by_sender.items():
        single = all(p.concat_ref is None for p in parts)
        groups = [[p] for p in parts] if single else codec.link_parts(parts)
        incomplete: dict[tuple[int, int], list[list[codec.SmsPart]]] = defaultdict(list)
        for group in groups:
            first = group[0]
            if first.concat_ref is not None and len(group) < first.concat_total:
                incomplete[(first.concat_ref, first.concat_total)].append(group)
                continue
            assembled.append(
                AssembledSms(
                    sender,
                    tuple(group),
                    codec.decode_text(group),
                    True,
                    first.concat_total,
                    _raw(group),
                )
            )
        for (_, total), pieces in incomplete.items():
            # LinkSMS splits a set at each gap: put the pieces back in order, marking the gaps.
            pieces.sort(key=lambda g: g[0].concat_seq)
            texts: list[str] = []
            for i, piece in enumerate(pieces):
                if i > 0 and piece[0].concat_seq != pieces[i - 1][-1].concat_seq + 1:
                    texts.append(GAP_MARK)
                texts.append(codec.decode_text(piece))
            parts_in_order = tuple(p for piece in pieces for p in piece)
            assembled.append(
                AssembledSms(sender, parts_in_order, "".join(texts), False, total, _raw(parts_in_order))
            )
    return assembled


def _raw(parts: Sequence[codec.SmsPart]) -> bytes:
    return b"\n".join(codec.pdu_dump(p) for p in parts)


class SmsChannel:
    """Implements channels.base.Channel for the GSM modem."""

    name = "sms"

    def __init__(
        self,
        settings: SmsSettings,
        modem: Modem,
        *,
        clock: Callable[[], datetime] = utc_now,
        background: bool = True,
    ) -> None:
        """`background=False`: start() only connects; the caller drives poll_once() itself."""
        self.settings = settings
        self._background = background
        self._poll_lock = asyncio.Lock()
        self.modem = modem
        self._clock = clock
        self._inbox: Inbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._first_seen: dict[PartialKey, datetime] = {}
        self._state = ChannelState.STOPPED
        self._detail = ""
        self._since: datetime | None = None
        self._last_poll: datetime | None = None
        self._last_health_at: datetime | None = None
        self._health: ModemHealth | None = None
        self._counts = {"ingested": 0, "duplicates": 0, "ingest_failures": 0,
                        "partials": 0, "delivery_reports": 0}  # fmt: skip

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, inbox: Inbox) -> None:
        if self._inbox is not None:
            return
        self._set_state(ChannelState.STARTING, "")
        try:
            await self.modem.open()
            await self.check_health()
        except (ChannelMisconfigured, ChannelAuthFailed) as exc:
            self._set_state(ChannelState.MISCONFIGURED, str(exc))
            raise
        except ChannelUnavailable as exc:
            self._set_state(ChannelState.DOWN, str(exc))
            raise
        self._inbox = inbox
        if self._background:
            self._task = asyncio.create_task(self._run(), name="sms-poll")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._inbox = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.modem.close()
        self._set_state(ChannelState.STOPPED, "")

    def _set_state(self, state: ChannelState, detail: str) -> None:
        if state != self._state:
            self._since = self._clock()
        self._state, self._detail = state, detail

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
                await self._health_if_due()
            except ChannelUnavailable as exc:
                self._set_state(ChannelState.DOWN, str(exc))
            except (ChannelMisconfigured, ChannelAuthFailed) as exc:
                self._set_state(ChannelState.MISCONFIGURED, str(exc))
            except Exception:  # a bug must not stop the polling of a citizen-facing channel
                log.exception("SMS poll failed")
                self._set_state(ChannelState.DEGRADED, "poll failed, see log")
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _health_if_due(self) -> None:
        due = self._last_health_at is None or self._clock() - self._last_health_at >= timedelta(
            seconds=self.settings.health_interval_s
        )
        if due:
            await self.check_health()

    async def check_health(self) -> ModemHealth:
        try:
            self._health = await self.modem.health()
        except ChannelUnavailable as exc:
            self._set_state(ChannelState.DOWN, str(exc))
            raise
        self._last_health_at = self._clock()
        self._refresh_state()
        return self._health

    def _refresh_state(self, refused: int = 0) -> None:
        health = self._health
        if refused:
            self._set_state(ChannelState.DEGRADED, f"core refused {refused} SMS; kept on the modem")
        elif self.modem.unreadable:
            count = len(self.modem.unreadable)
            self._set_state(ChannelState.DEGRADED, f"{count} SMS cannot be decoded; kept on the modem")
        elif health is not None and not health.registered:
            self._set_state(ChannelState.DEGRADED, f"network: {health.network_state}")
        elif health is not None and health.signal_percent < self.settings.min_signal_percent:
            self._set_state(ChannelState.DEGRADED, f"weak signal {health.signal_percent}%")
        else:
            self._set_state(ChannelState.UP, "")

    # -- one round ---------------------------------------------------------------------------

    async def poll_once(self) -> int:
        """Read the modem, ingest what is complete (or timed out), delete what was ingested.

        Returns the number of SMS handed to the inbox successfully (duplicates included).
        """
        if self._inbox is None:
            raise ChannelUnavailable("SMS channel not started")
        async with self._poll_lock:
            return await self._poll(self._inbox)

    async def _poll(self, inbox: Inbox) -> int:
        parts = [p for p in await self.modem.read_all() if p.inbox]
        now = self._clock()
        await self._record_reports([p for p in parts if p.kind == "status_report"], inbox)

        # The same SMS stored twice (the network re-delivered it) is ingested once, deleted twice.
        unique: dict[tuple[object, ...], codec.SmsPart] = {}
        copies: dict[tuple[object, ...], list[int]] = defaultdict(list)
        for part in parts:
            if part.kind != "deliver":
                continue
            kept = unique.setdefault(part.identity, part)
            if kept is not part:
                copies[part.identity].append(part.location)
        by_sender: dict[str, list[codec.SmsPart]] = defaultdict(list)
        for part in unique.values():
            by_sender[part.number].append(part)
        messages = await self.modem.run(assemble, dict(by_sender)) if by_sender else []

        done = refused = 0
        waiting: set[PartialKey] = set()
        ready: list[tuple[AssembledSms, bool]] = []
        for message in messages:
            partial = False
            if not message.complete:
                first_seen = self._first_seen.setdefault(message.key, now)
                if now - first_seen < timedelta(seconds=self.settings.multipart_timeout_s):
                    waiting.add(message.key)
                    continue
                partial = True
            ready.append((message, partial))
        # Handed over together so the core can commit them in one transaction (group commit);
        # each is still deleted from the SIM only after its own ingest returned.
        accepted = await asyncio.gather(*(self._ingest(m, p, inbox) for m, p in ready))
        for (message, partial), ok in zip(ready, accepted, strict=True):
            if not ok:
                refused += 1
                if partial:
                    waiting.add(message.key)  # keep its age: retried at the next poll
                continue
            done += 1
            locations = [p.location for p in message.parts]
            locations += [loc for p in message.parts for loc in copies.get(p.identity, [])]
            await self.modem.delete(locations)
            self._first_seen.pop(message.key, None)
        for key in set(self._first_seen) - waiting:
            del self._first_seen[key]  # completed, or removed from the SIM by hand
        self._last_poll = now
        self._refresh_state(refused)
        return done

    def _contact(self, message: AssembledSms, partial: bool) -> InboundContact:
        e164 = normalise_number(message.sender, self.settings.default_region)
        first = message.parts[0]
        meta = {
            "script": codec.script_of(message.text),
            "parts": str(len(message.parts)),
            "coding": "ucs2" if first.coding.startswith("Unicode") else "gsm7",
        }
        if partial:
            meta["partial"] = "1"
            meta["parts_expected"] = str(message.total)
        if e164 is None:
            meta["sender_format"] = "alphanumeric"
        body = self._kind_and_reply(message, meta)
        return InboundContact(
            channel=ChannelKind.SMS,
            external_id=message.external_id(),
            sender=e164 or message.sender.strip(),
            received_at=(first.sent_at or self._clock()).astimezone(UTC),
            body=body,
            meta=meta,
            raw=message.raw,
        )

    def _kind_and_reply(self, message: AssembledSms, meta: dict[str, str]) -> str:
        """The body for the core: the citizen's text, or for an MMS notice, a binary or an empty SMS
        a description for staff (never an empty ticket); and whether a reply may be sent at all."""
        sort = kinds.classify(message.parts, message.text)
        meta.update(sort.meta)
        if sort.kind in ("binary", "empty"):
            meta["quarantine"] = sort.summary  # kept for staff, no ticket, no reply
        s = self.settings
        refusal = kinds.reply_refusal(message.sender, s.default_region, s.reply_regions, s.reply_mobile_only)
        if refusal is not None:
            meta["suppress_ack"], meta["reply_refused"] = "1", refusal
        return message.text if sort.kind in ("text", "flash") else sort.summary

    async def _ingest(self, message: AssembledSms, partial: bool, inbox: Inbox) -> bool:
        contact = self._contact(message, partial)
        try:
            result = await inbox.ingest(contact)
        except Exception as exc:  # the core failed: the SMS stays on the modem for the next poll
            self._counts["ingest_failures"] += 1
            log.warning("SMS from %s not ingested, kept on the modem: %s",
                        mask_number(contact.sender), type(exc).__name__)  # fmt: skip
            return False
        self._counts["duplicates" if result.duplicate else "ingested"] += 1
        self._counts["partials"] += partial
        log.info("SMS from %s ingested (%s parts%s)%s", mask_number(contact.sender),
                 contact.meta["parts"], ", partial" if partial else "",
                 " duplicate" if result.duplicate else "")  # fmt: skip
        return True

    async def _record_reports(self, reports: Sequence[codec.SmsPart], inbox: Inbox) -> None:
        for part in reports:
            report = DeliveryReport(
                channel=ChannelKind.SMS,
                recipient=normalise_number(part.number, self.settings.default_region) or part.number,
                state=delivery_state(part.delivery_status),
                reported_at=(part.sent_at or self._clock()).astimezone(UTC),
                provider_ref=str(part.message_reference),
                detail=f"TP-Status 0x{part.delivery_status:02x}",
            )
            try:
                await inbox.record_delivery(report)
            except Exception as exc:
                log.warning("delivery report kept on the modem: %s", type(exc).__name__)
                continue
            self._counts["delivery_reports"] += 1
            await self.modem.delete([part.location])

    # -- health ------------------------------------------------------------------------------

    def status(self) -> ChannelStatus:
        metrics: dict[str, float] = {
            "connected": float(self.modem.connected),
            "incomplete_multipart": float(len(self._first_seen)),
            "link_failures": float(self.modem.link_failures),
            "undecodable": float(len(self.modem.unreadable)),
            **{k: float(v) for k, v in self._counts.items()},
        }
        if self._health is not None:
            metrics["signal_percent"] = float(self._health.signal_percent)
            metrics["network_registered"] = float(self._health.registered)
        if self._last_poll is not None:
            metrics["last_poll_ts"] = self._last_poll.timestamp()
        state, detail = self._state, self._detail
        if state in (ChannelState.UP, ChannelState.DEGRADED) and not self.modem.connected:
            state, detail = ChannelState.DOWN, self.modem.last_error or "modem disconnected"
        return ChannelStatus(self.name, state, detail, self._since, metrics)
