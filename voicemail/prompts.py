"""The hotline's recorded prompts: greetings per kind of hours, the status hint, beep and the
status menu's answers; shipped WAVs (voicemail/sounds) unless settings name others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicemail.audio import beep, load_sound, read_wav
from voicemail.settings import HoursKind, SipSettings

STATUS_KEYS = ("received", "open", "assigned", "in_progress", "resolved", "closed")


@dataclass(frozen=True, slots=True)
class Prompts:
    after_hours: bytes
    holiday: bytes
    mailbox_full: bytes
    in_hours: bytes
    beep: bytes
    menu: bytes
    enter_reference: bytes
    goodbye: bytes
    not_found: bytes
    unknown: bytes
    status: dict[str, bytes]

    def greeting(self, kind: HoursKind) -> bytes:
        if kind == HoursKind.HOLIDAY:
            return self.holiday
        if kind == HoursKind.BUSINESS:
            return self.in_hours
        return self.after_hours


def load_prompts(settings: SipSettings) -> Prompts:
    def greeting(path: Path | None, default: str) -> bytes:
        return read_wav(path) if path is not None else load_sound(default)

    return Prompts(
        after_hours=greeting(settings.greeting_after_hours, "after_hours"),
        holiday=greeting(settings.greeting_holiday, "holiday"),
        mailbox_full=greeting(settings.greeting_mailbox_full, "mailbox_full"),
        in_hours=greeting(settings.greeting_in_hours, "in_hours"),
        beep=beep(),
        menu=load_sound("menu"),
        enter_reference=load_sound("enter_reference"),
        goodbye=load_sound("goodbye"),
        not_found=load_sound("status_not_found"),
        unknown=load_sound("status_unknown"),
        status={key: load_sound(f"status_{key}") for key in STATUS_KEYS},
    )
