"""The SIP-line medium sets itself up: the hotline's voicemail channel (one registration, leased to
one process) in the process that runs the `sip` role; replies to callers go out as SMS."""

from __future__ import annotations

from collections.abc import Callable

from channels.medium import CoreLinks, MediumParts
from voicemail.settings import SipSettings


def setup(settings: SipSettings, *, run_channel: bool, core: CoreLinks, vad: bool = False) -> MediumParts:
    if not run_channel:
        return MediumParts()
    from voicemail.channel import VoicemailChannel
    from voicemail.settings import HoursKind

    speech_gate: Callable[[bytes, int], bool] | None = None
    if vad:
        from voicemail.vad import has_speech as speech_gate

    channel = VoicemailChannel(
        settings,
        hours=lambda at: HoursKind(core.hours(at)),
        status_lookup=core.status_lookup,
        has_speech=speech_gate,
        clock=core.clock,
    )
    return MediumParts(channels=[channel], exclusive=True)
