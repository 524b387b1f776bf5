"""The GSM medium sets itself up: the modem has exactly one owner, so the process that runs the
`sms` role owns the channel and sends SMS too; elsewhere this medium has no parts."""

from __future__ import annotations

from channels.base import ChannelKind
from channels.medium import CoreLinks, MediumParts
from sms.settings import SmsSettings


def setup(settings: SmsSettings, *, run_channel: bool, core: CoreLinks) -> MediumParts:
    if not run_channel:
        return MediumParts()
    from sms.channel import SmsChannel
    from sms.modem import Modem
    from sms.notifier import SmsNotifier

    modem = Modem(settings, clock=core.clock)
    return MediumParts(
        channels=[SmsChannel(settings, modem, clock=core.clock)],
        exclusive=True,
        notifiers={ChannelKind.SMS.value: SmsNotifier(settings, modem, clock=core.clock)},
    )
