"""The e-mail medium sets itself up: the outbound notifier wherever mail is enabled; the inbound SMTP
channel and its spool decoder in the process that runs the `mail` role."""

from __future__ import annotations

from channels.base import ChannelKind
from channels.medium import CoreLinks, MediumParts
from mail.settings import MailSettings


def setup(settings: MailSettings, *, run_channel: bool, core: CoreLinks) -> MediumParts:
    from mail.notifier import MailNotifier

    parts = MediumParts(notifiers={ChannelKind.EMAIL.value: MailNotifier(settings)})
    if run_channel:
        from mail.channel import MailChannel
        from mail.intake import decode_spooled

        parts.channels.append(MailChannel(settings, clock=core.clock))
        # Whoever takes mail parses it too; other `--only mail` processes share the spool.
        parts.decoders[ChannelKind.EMAIL] = decode_spooled
    return parts
