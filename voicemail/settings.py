"""Settings of the SIP hotline medium: how to reach the PBX or trunk, call limits, greetings.

Composed by the gateway config into its own TOML section; secrets are named, never stored.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HoursKind(StrEnum):
    BUSINESS = "business"
    AFTER_HOURS = "after_hours"
    HOLIDAY = "holiday"


class SipSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    mode: Literal["trunk", "register"] = "trunk"
    bind_host: str = "127.0.0.1"
    bind_port: int = 5062
    rtp_port_low: int = 20000
    rtp_port_high: int = 20999
    server: str = "127.0.0.1"  # registrar/PBX, or the trunk peer
    server_port: int = 5060
    username: str = "hotline"
    password_env: str = "SISTEM48_SIP_PASSWORD"  # noqa: S105 - the variable's name, not a secret
    register_expires_s: int = 300
    # Our User-Agent/Server header (the library's name and version are never sent).
    keepalive_s: float = Field(default=0, ge=0)  # register mode: CRLF keep-alive for NAT bindings, 0 = off
    user_agent: str = Field(default="Sistem48", pattern=r"^[\x21-\x7e][\x20-\x7e]{0,63}$")
    # The only sources whose INVITEs ring ("host" or "host:port"; in register mode the registrar's
    # addresses too). Everyone else's INVITE gets 403, anything else from them is ignored.
    trunk_peers: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    # New INVITEs per source address: a burst, then a sustained rate; over it a peer gets 503 with
    # Retry-After, others are dropped. All sources that are not peers share one such budget.
    invite_rate_per_s: float = Field(default=5.0, gt=0)
    invite_burst: int = Field(default=40, ge=1)
    called_number: str = "48"
    max_calls: int = 30
    max_message_s: float = 180
    min_message_s: float = 2.0
    silence_stop_s: float = 10
    rtp_timeout_s: float = 8
    in_hours: Literal["busy", "record"] = "busy"
    greeting_after_hours: Path | None = None  # None = shipped default
    greeting_holiday: Path | None = None
    greeting_mailbox_full: Path | None = None
    greeting_in_hours: Path | None = None
    max_recordings_per_day: int = 500
    dtmf_menu: bool = True
    language: str = "sr"
    state_dir: Path = Path("var/sip")
    ingest_timeout_s: float = 30.0
    quarantine_retry_s: float = 60.0
