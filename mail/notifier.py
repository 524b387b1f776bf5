"""Outbound mail to citizens (acknowledgements, status updates) through the configured SMTP relay,
marked automatic per RFC 3834 so autoresponders do not answer it; SMTP 4xx and network errors are
temporary failures, 5xx permanent."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from channels.base import DeliveryFailed, DeliveryReceipt, Notification
from channels.clock import utc_now
from mail.settings import MailSettings

log = logging.getLogger(__name__)


def _bracketed(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


class MailNotifier:
    """Sends one `Notification` per call through the relay in `settings.relay`."""

    def __init__(self, settings: MailSettings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._clock = clock

    def build_message(self, n: Notification) -> EmailMessage:
        """The MIME message for `n` (UTF-8 text/plain, attachments), headers as RFC 3834 wants."""
        settings = self.settings
        msg = EmailMessage()
        msg["From"] = formataddr((settings.from_name, settings.from_address))
        msg["To"] = n.recipient
        msg["Subject"] = n.subject or ""
        msg["Date"] = format_datetime(self._clock().astimezone(UTC))
        domain = settings.from_address.rpartition("@")[2] or settings.domain
        msg["Message-ID"] = _bracketed(n.message_id or f"{uuid.uuid4().hex}@{domain}")
        if n.in_reply_to:
            msg["In-Reply-To"] = _bracketed(n.in_reply_to)
        references = [_bracketed(r) for r in n.references if r.strip()]
        if references:
            msg["References"] = " ".join(references)
        if n.automatic:
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Auto-Response-Suppress"] = "All"
        reply_to = n.meta.get("reply_to")
        if reply_to:
            msg["Reply-To"] = reply_to
        msg.set_content(n.body, charset="utf-8", cte="quoted-printable")
        for attachment in n.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            msg.add_attachment(
                attachment.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return msg

    async def send(self, n: Notification) -> DeliveryReceipt:
        try:
            msg = self.build_message(n)
        except (ValueError, TypeError) as exc:
            # e.g. a line break in the recipient or subject (header injection): retrying cannot help.
            raise DeliveryFailed(f"message cannot be built: {type(exc).__name__}", permanent=True) from None
        relay = self.settings.relay
        if relay.deliver_to == "directory":
            return await asyncio.to_thread(self._write_to_directory, msg, n)
        password: str | None = None
        if relay.username:
            password = os.environ.get(relay.password_env)
            if password is None:
                # Temporary: the message must wait in the outbox until the operator sets it.
                raise DeliveryFailed(
                    f"relay password variable {relay.password_env} is not set", permanent=False
                )
        try:
            await aiosmtplib.send(
                msg,
                sender=self.settings.from_address,
                recipients=[n.recipient],
                hostname=relay.host,
                port=relay.port,
                username=relay.username,
                password=password,
                start_tls=relay.starttls,
                validate_certs=relay.verify_tls,
                timeout=relay.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = bool(codes) and all(500 <= c < 600 for c in codes)
            raise DeliveryFailed(f"recipient refused: {codes}", permanent=permanent) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # The relay refusing our credentials is not the message's fault: keep it for a retry.
            raise DeliveryFailed(f"relay authentication failed: {exc.code}", permanent=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise DeliveryFailed(f"relay answered {exc.code}", permanent=permanent) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"relay unreachable: {type(exc).__name__}", permanent=False) from None
        message_id = str(msg["Message-ID"])
        log.info("mail sent (outbox %d)", n.outbox_id)
        return DeliveryReceipt(provider_ref=message_id.strip("<>"))

    def _write_to_directory(self, msg: EmailMessage, n: Notification) -> DeliveryReceipt:
        folder = self.settings.relay.directory
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{self._clock():%Y%m%dT%H%M%S}-{n.outbox_id:08d}.eml"
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, folder / name)
        except OSError as exc:
            raise DeliveryFailed(f"cannot write to {folder}: {exc.strerror}", permanent=False) from None
        log.info("mail written to the outgoing directory (outbox %d)", n.outbox_id)
        return DeliveryReceipt(provider_ref=str(msg["Message-ID"]).strip("<>"))
