"""Settings of the e-mail medium: the inbound SMTP server and the outbound relay.

Composed by the gateway's config as the `[mail]` TOML section; secrets are named env variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MailRelaySettings(BaseModel):
    """The SMTP relay outbound mail (acknowledgements, status updates) is handed to."""

    model_config = ConfigDict(extra="forbid")

    # "smtp": hand mail to the relay below. "directory": write each message as an .eml file into
    # `directory` instead (the embedded demo, and a box whose outbound mail is picked up by a spooler).
    deliver_to: Literal["smtp", "directory"] = "smtp"
    directory: Path = Path("var/mail-out")
    host: str = "127.0.0.1"
    port: int = 2525
    starttls: bool = False
    username: str | None = None
    password_env: str = "SISTEM48_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a secret
    timeout_s: float = 30
    # Relays with self-signed certificates on a private network; False only there.
    verify_tls: bool = True


class MailSettings(BaseModel):
    """Inbound SMTP server (aiosmtpd) and outbound notifier settings."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525  # demo default; 25 in production
    hostname: str = "sistem48.localhost"
    domain: str = "sistem48.localhost"
    accept_addresses: list[str] = Field(default_factory=lambda: ["sistem48@sistem48.localhost"])
    accept_domains: list[str] = Field(default_factory=list)
    max_message_bytes: int = 25 * 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    from_address: str = "sistem48@sistem48.localhost"
    from_name: str = "Sistem 48"
    max_sessions_per_ip: int = 20
    max_acks_per_sender_per_hour: int = 5
    relay: MailRelaySettings = Field(default_factory=MailRelaySettings)

    max_recipients: int = 20
    # Per-client limits (abuse, address harvesting); the municipal MX relaying to us is exempt.
    trusted_relays: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    connections_per_minute: int = 60  # per client address; over it: 421 at connect (0: no limit)
    messages_per_hour: int = 300  # per client address; over it: 451 at MAIL FROM (0: no limit)
    max_unknown_recipients: int = 3  # 550s in one session before we say 421 and hang up
    # RFC 5321 §4.5.3.1.6 allows 1000 octets a line; direct-to-MX clients send longer HTML lines.
    line_length_limit: int = 65536
    idle_timeout_s: float = 300
    # Whole-session budget: a peer sending one command per idle period must not hold a slot.
    session_deadline_s: float = 1800
    data_deadline_s: float = 600
    command_call_limit: int = 1000  # per command per session; over it: 421, the client reconnects
    # aiosmtpd's own INFO log carries full envelope addresses; off unless debugging.
    library_debug_log: bool = False
