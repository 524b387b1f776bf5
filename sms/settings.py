"""Settings of the SMS medium: the `[sms]` section of the gateway's TOML config.

Every default works on the embedded demo (Gammu's dummy driver in `var/modem`).
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Gammu connection triple; model "dummy" with device = a directory is the simulated modem.
    model: str = "dummy"
    connection: str = "none"
    device: str = "var/modem"
    pin_env: str = "SISTEM48_SIM_PIN"
    default_region: str = "RS"
    poll_interval_s: float = Field(default=2.0, gt=0)
    multipart_timeout_s: float = Field(default=600, ge=0)
    call_timeout_s: float = Field(default=45, gt=0)
    send_per_minute: int = Field(default=6, ge=1)
    encoding_policy: Literal["keep_script", "gsm7_latin"] = "keep_script"
    request_delivery_reports: bool = True
    reply_on: list[str] = Field(
        default_factory=lambda: ["open", "assigned", "resolved", "forwarded", "closed"]
    )
    quiet_hours_start: time | None = time(21, 0)
    quiet_hours_end: time | None = time(8, 0)
    thread_window_hours: float = 72
    # Replies (acknowledgements, status SMS) go only to mobile numbers of these regions (empty: the
    # default_region): a foreign, premium-rate or short number must not make the gateway spend money.
    reply_regions: list[str] = Field(default_factory=list)
    reply_mobile_only: bool = True
    # The one reply to an MMS (its photo cannot come through the modem); Cyrillic readers get it
    # transliterated. {mail}: the municipal address (first of mail.accept_addresses), {ref}: the ticket.
    mms_reply: str = "Sistem48: MMS ne stize do nas. Fotografije posaljite e-postom na {mail}, uz broj {ref}."

    # Reconnect backoff after the modem dropped: doubles from min to max.
    reconnect_backoff_min_s: float = Field(default=1.0, gt=0)
    reconnect_backoff_max_s: float = Field(default=60.0, gt=0)
    health_interval_s: float = Field(default=30.0, gt=0)
    # Below this signal the channel reports DEGRADED (the recipe's health rule).
    min_signal_percent: int = Field(default=10, ge=0, le=100)
    # Dummy driver only: create the device directory on open, and keep a copy of every
    # submitted PDU under <device>/sent/ (the dummy itself stores nothing it sends).
    create_dummy_dir: bool = True
    record_sent: bool = True
    # Gammu debug log ("textall" level); empty = off. Logs numbers and texts: keep it off
    # in production.
    debug_file: str = ""
