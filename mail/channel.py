"""Inbound SMTP server (aiosmtpd): accepts mail for the configured addresses, hands it to the inbox.

The only module importing aiosmtpd. A mail is answered 250 only after `Inbox.spool` committed it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import (
    ChannelKind,
    ChannelMisconfigured,
    ChannelState,
    ChannelStatus,
    ChannelUnavailable,
    Inbox,
    RawInbound,
    listen_failed,
)
from channels.clock import utc_now
from channels.privacy import mask_address
from mail.limits import ClientLimits, SessionGate
from mail.settings import MailSettings

log = logging.getLogger(__name__)

_AIOSMTPD_LOGGER = "mail.log"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"


class _GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with a per-IP gate, a whole-session deadline and a 421 on internal errors."""

    gate: SessionGate
    limits: ClientLimits
    session_deadline_s: float
    live: set[_GatewaySMTP]

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._peer_ip: str | None = None
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # not the second call after STARTTLS
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if peer else "unknown"
            if not self.limits.connection_allowed(ip) or not self.gate.admit(ip):
                self._refused = True
                if isinstance(transport, asyncio.WriteTransport):
                    transport.write(b"421 4.7.0 Too many connections from your address\r\n")
                transport.close()
                return
            self._peer_ip = ip
            self.live.add(self)
            self._deadline = self.loop.call_later(self.session_deadline_s, self._expire)
        super().connection_made(transport)

    def _expire(self) -> None:
        if self.transport is not None:
            log.info("SMTP session deadline reached; closing")
            self.transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._deadline is not None:
            self._deadline.cancel()
        if self._peer_ip is not None:
            self.gate.release(self._peer_ip)
            self._peer_ip = None
        self.live.discard(self)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default is "500 Error: (Type) message": permanent and leaks internals.
        log.error("SMTP session error: %s", type(error).__name__)
        if self.transport is not None:
            self.loop.call_soon(self.transport.close)
        return "421 4.3.0 Service temporarily unavailable, closing connection"


class _Handler:
    def __init__(self, channel: MailChannel) -> None:
        self.channel = channel

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if not self.channel.limits.message_allowed(_peer_ip(session)):
            self.channel.counters["rate_limited"] += 1
            return "451 4.7.1 Too many messages from your address, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        channel = self.channel
        if not channel.accepts(address):
            channel.counters["rejected_rcpt"] += 1
            unknown = getattr(session, "unknown_recipients", 0) + 1
            session.unknown_recipients = unknown  # type: ignore[attr-defined]
            if unknown > channel.settings.max_unknown_recipients and not channel.limits.trusted(
                _peer_ip(session)
            ):
                # Someone is guessing addresses: stop answering per address.
                if server.transport is not None:
                    server.loop.call_soon(server.transport.close)
                return "421 4.7.0 Too many unknown recipients, closing connection"
            return "550 5.1.1 No such user here"
        if len(envelope.rcpt_tos) >= channel.settings.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return await self.channel.accept(session, envelope)


def _peer_ip(session: Session) -> str:
    return str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer)


class MailChannel:
    """The inbound e-mail channel: an SMTP server on `listen_host:listen_port`."""

    name = "mail"

    def __init__(self, settings: MailSettings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._clock = clock
        self._inbox: Inbox | None = None
        self._server: asyncio.Server | None = None
        self._live: set[_GatewaySMTP] = set()
        self._gate = SessionGate(settings.max_sessions_per_ip)
        self._limits = ClientLimits(settings)
        self._state = ChannelState.STOPPED
        self._detail = ""
        self._since: datetime | None = None
        self._port = 0
        self.counters: Counter[str] = Counter()
        self._addresses = {a.lower() for a in settings.accept_addresses}
        self._domains = {d.lower().lstrip("@") for d in settings.accept_domains}

    @property
    def port(self) -> int:
        return self._port

    @property
    def limits(self) -> ClientLimits:
        return self._limits

    def accepts(self, address: str) -> bool:
        """True for a configured address, its plus forms, or an address at an accepted domain."""
        local, at, domain = address.strip().strip("<>").lower().rpartition("@")
        if not at or not local:
            return False
        if domain in self._domains:
            return True
        base = local.split("+", 1)[0]
        return f"{base}@{domain}" in self._addresses

    def _tls_context(self) -> ssl.SSLContext | None:
        cert, key = self.settings.tls_cert, self.settings.tls_key
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise ChannelMisconfigured("mail: tls_cert and tls_key must be set together")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ChannelMisconfigured(f"mail: cannot load TLS certificate: {exc}") from exc
        return context

    async def start(self, inbox: Inbox) -> None:
        if self._server is not None:
            return
        self._state, self._since = ChannelState.STARTING, self._clock()
        self._inbox = inbox
        if not self.settings.library_debug_log:
            # aiosmtpd logs every command line (MAIL FROM/RCPT TO with full addresses) at INFO.
            logging.getLogger(_AIOSMTPD_LOGGER).setLevel(logging.WARNING)
        try:
            tls = self._tls_context()
        except ChannelMisconfigured as exc:
            self._state, self._detail = ChannelState.MISCONFIGURED, str(exc)
            raise
        loop = asyncio.get_running_loop()
        settings = self.settings
        server_class = type(
            "Sistem48SMTP",
            (_GatewaySMTP,),
            {
                # Read by SMTP.__init__ for its StreamReader, hence a class attribute.
                "line_length_limit": settings.line_length_limit,
                "gate": self._gate,
                "limits": self._limits,
                "session_deadline_s": settings.session_deadline_s,
                "live": self._live,
            },
        )
        handler = _Handler(self)

        def factory() -> SMTP:
            return server_class(  # type: ignore[no-any-return]
                handler,
                hostname=settings.hostname,  # never socket.getfqdn() per connection (aiosmtpd#178)
                data_size_limit=settings.max_message_bytes,
                enable_SMTPUTF8=True,
                decode_data=False,
                tls_context=tls,
                require_starttls=False,  # RFC 3207 §4: a public MX must not require it
                timeout=settings.idle_timeout_s,
                command_call_limit=settings.command_call_limit,
                loop=loop,
            )

        try:
            self._server = await loop.create_server(
                factory, settings.listen_host, settings.listen_port, backlog=256
            )
        except OSError as exc:
            error = listen_failed(self.name, f"{settings.listen_host}:{settings.listen_port}", exc)
            down = isinstance(error, ChannelUnavailable)
            self._state = ChannelState.DOWN if down else ChannelState.MISCONFIGURED
            self._detail = f"cannot listen on {settings.listen_host}:{settings.listen_port}"
            raise error from exc
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._state, self._detail, self._since = ChannelState.UP, "", self._clock()
        log.info("mail channel listening on %s:%d", settings.listen_host, self._port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for protocol in list(self._live):
                if protocol.transport is not None:
                    protocol.transport.close()
            await server.wait_closed()
        if self._state != ChannelState.STOPPED:
            self._state, self._detail, self._since = ChannelState.STOPPED, "", self._clock()

    def status(self) -> ChannelStatus:
        metrics = {key: float(value) for key, value in self.counters.items()}
        metrics["sessions"] = float(len(self._live))
        return ChannelStatus(self.name, self._state, self._detail, self._since, metrics)

    async def accept(self, session: Session, envelope: Envelope) -> str:
        """Spool one received mail; 250 only once the raw bytes are committed, 451 on any failure.
        Parsing and the ticket come after, from the spool (so a parser bug can never cost a mail)."""
        inbox = self._inbox
        raw = envelope.original_content
        if inbox is None or raw is None:
            return TEMPORARY_FAILURE
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        item = RawInbound(
            ChannelKind.EMAIL,
            raw,
            self._clock(),
            {
                "mail_from": envelope.mail_from or "",
                "rcpt_tos": ",".join(envelope.rcpt_tos),
                "peer": str(peer) if peer else "",
                "helo": session.host_name or "",
                "tls": "1" if session.ssl else "",
            },
        )
        try:
            async with asyncio.timeout(self.settings.data_deadline_s):
                spool_id = await inbox.spool(item)
        except Exception as exc:
            self.counters["temp_failed"] += 1
            log.warning(
                "mail from %s not accepted (%s); sender will retry",
                mask_address(envelope.mail_from),
                type(exc).__name__,
            )
            return TEMPORARY_FAILURE
        self.counters["accepted"] += 1
        log.debug(
            "mail from %s spooled as %s (%d bytes)", mask_address(envelope.mail_from), spool_id, len(raw)
        )
        return f"250 2.0.0 OK: queued as {spool_id}"
