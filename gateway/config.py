"""The only config reader: TOML (tomllib) → pydantic models with extra="forbid"; secrets from env vars.

A bad file stops start-up with one line naming the key and the problem (`ConfigError`).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mail.settings import MailSettings
from sms.settings import SmsSettings
from voicemail.settings import SipSettings
from voicemail.transcription_settings import TranscriptionSettings


class ConfigError(Exception):
    """One line: where in the file, and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GatewaySettings(_Strict):
    data_dir: Path = Path("var")
    timezone: str = "Europe/Belgrade"
    reference_prefix: str = "S48"
    public_base_url: str = "http://127.0.0.1:8048"
    secret_env: str = "SISTEM48_SECRET"  # noqa: S105 - HMAC key for signed Message-IDs, session cookies, tokens
    default_region: str = "RS"
    instance_name: str = "sistem48"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("reference_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if not value.isalnum() or not value.isupper() or len(value) > 6:
            raise ValueError("must be 1-6 upper-case letters/digits, e.g. S48")
        return value


class DatabaseSettings(_Strict):
    url: str = "sqlite:///var/sistem48.db"
    url_env: str | None = None  # e.g. "SISTEM48_DATABASE_URL": replaces `url`; must then be set

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql")):
            raise ValueError("only sqlite:///PATH and postgresql+psycopg://… URLs are supported")
        return value


class HttpSettings(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8048, ge=0, le=65535)
    secure_cookies: bool = False  # set true behind HTTPS
    session_hours: float = 12
    login_max_failures: int = 5
    login_lockout_minutes: float = 15
    map_tiles_url: str | None = None  # e.g. a municipal tile server; no map when unset (offline)
    # X-Forwarded-For / -Proto are believed only from these addresses or networks (the reverse proxy);
    # the client address of everyone else is the TCP peer, so per-client limits cannot be dodged.
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]


def _parse_span(value: str) -> tuple[time, time]:
    try:
        start_s, end_s = value.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}") from exc
    if not start < end:
        raise ValueError(f"span {value!r} ends before it starts")
    return start, end


class BusinessHoursSettings(_Strict):
    monday: str | None = "07:30-15:30"
    tuesday: str | None = "07:30-15:30"
    wednesday: str | None = "07:30-15:30"
    thursday: str | None = "07:30-15:30"
    friday: str | None = "07:30-15:30"
    saturday: str | None = None
    sunday: str | None = None
    holidays_country: str = "RS"
    extra_holidays: list[str] = []  # ISO dates: the municipality's own day, a slava
    extra_working_days: list[str] = []  # ISO dates that work although the calendar says holiday

    @field_validator("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    @classmethod
    def _span(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_span(value)
        return value

    def spans(self) -> dict[int, tuple[time, time]]:
        days = [
            self.monday,
            self.tuesday,
            self.wednesday,
            self.thursday,
            self.friday,
            self.saturday,
            self.sunday,
        ]
        return {i: _parse_span(v) for i, v in enumerate(days) if v}


class SlaSettings(_Strict):
    default_hours: int = Field(default=48, gt=0)
    # "working_days": the hours run on working days only (weekends and holidays don't count);
    # "business_hours": they run only inside business hours.
    clock: Literal["working_days", "business_hours"] = "working_days"
    sweep_interval_s: float = 60
    escalation_emails: list[str] = []  # coordinator; the utility and its own chain come from [[utilities]]


class UtilitySettings(_Strict):
    code: str
    name: str
    emails: list[str] = []  # work orders go here; replies from these addresses update them
    escalation_emails: list[str] = []  # utility → coordinator → mayor's office, in order
    webhook_url: str | None = None
    webhook_secret_env: str | None = None


class CategorySettings(_Strict):
    code: str
    name: str
    utility: str
    sla_hours: int = Field(default=48, gt=0)
    keywords: list[str] = []  # any script, with or without diacritics; prefixes match word starts
    open311_group: str | None = None
    enabled: bool = True  # a disabled category keeps its tickets but is offered on no form


class WorkOrderSettings(_Strict):
    """`[work_orders]`: photos on work orders, reminder steps, webhook delivery."""

    enabled: bool = True
    attach_photos: bool = True
    max_photos: int = Field(default=5, ge=0, le=20)
    # Hours after the deadline at which a reminder goes out; each step adds the next link of the
    # chain: the utility itself, then its escalation_emails, then the coordinator ([sla]).
    reminder_steps_hours: list[float] = Field(default_factory=lambda: [0.0, 24.0, 48.0])
    webhook_timeout_s: float = Field(default=10.0, gt=0)


class DigestSettings(_Strict):
    """The morning e-mail with the night's voicemails and missed calls, at opening time."""

    enabled: bool = True
    recipients: list[str] = ["administrator@sistem48.localhost"]


class StreetSettings(_Strict):
    """`[streets]`: the street register that addresses in calls, SMS and mail are matched against."""

    enabled: bool = True
    # CSV export of the municipality's address register: name, optional aliases (a|b),
    # house_from/house_to or one row per house (number), optional lat/lon. None: the shipped example.
    register_csv: Path | None = None


class WorkerSettings(_Strict):
    outbox_interval_s: float = 1.0
    outbox_max_attempts: int = 8
    jobs_interval_s: float = 1.0
    transcribe_in_process: bool = True  # `sistem48 run` transcribes; false when separate workers do


class RetentionSettings(_Strict):
    """`[retention]`: how long each kind of personal data is kept; the daily sweep removes the rest."""

    enabled: bool = True
    voicemail_audio_days: int = Field(default=90, ge=1)  # after the ticket is closed; transcript too
    raw_message_days: int = Field(default=30, ge=1)  # the bytes as received; the text stays
    photo_days: int = Field(default=365, ge=1)  # after the ticket is closed
    identity_months: int = Field(default=24, ge=1)  # after the citizen's last ticket closed
    pii_access_days: int = Field(default=1825, ge=1)  # the audit log outlives what it audits
    call_log_days: int = Field(default=180, ge=1)
    blob_grace_days: int = Field(default=7, ge=1)  # an unreferenced blob file lingers this long
    batch_size: int = Field(default=500, ge=1, le=10000)  # citizens go a fiftieth of it at a time
    check_interval_s: float = Field(default=3600, gt=0)  # how often it asks "was today's sweep done?"


class Config(_Strict):
    gateway: GatewaySettings = GatewaySettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    sla: SlaSettings = SlaSettings()
    workers: WorkerSettings = WorkerSettings()
    work_orders: WorkOrderSettings = WorkOrderSettings()
    digest: DigestSettings = DigestSettings()
    utilities: list[UtilitySettings] = []
    categories: list[CategorySettings] = []
    mail: MailSettings = MailSettings()
    sms: SmsSettings = SmsSettings()
    sip: SipSettings = SipSettings()
    transcription: TranscriptionSettings = TranscriptionSettings()
    streets: StreetSettings = StreetSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _catalogue_consistent(self) -> Config:
        codes = {u.code for u in self.utilities}
        if len(codes) != len(self.utilities):
            raise ValueError("utilities: duplicate code")
        seen: set[str] = set()
        for i, cat in enumerate(self.categories):
            if cat.utility not in codes:
                raise ValueError(f"categories[{i}].utility: unknown utility {cat.utility!r}")
            if cat.code in seen:
                raise ValueError(f"categories[{i}].code: duplicate {cat.code!r}")
            seen.add(cat.code)
        return self

    # -- derived values ------------------------------------------------------------------
    def database_url(self) -> str:
        if self.database.url_env:
            # No fallback to `url`: a missing secrets.env would put the gateway on an empty SQLite file.
            value = os.environ.get(self.database.url_env)
            if not value:
                raise ConfigError(
                    f"url_env {self.database.url_env} is set in the config but not in the environment"
                )
            return value
        url = self.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url.removeprefix("sqlite:///")
            if rel != ":memory:":
                return "sqlite:///" + str(Path(rel).absolute())
        return url

    def secret(self) -> bytes:
        """The HMAC key: from the environment, else generated once into the data directory."""
        value = os.environ.get(self.gateway.secret_env)
        if value:
            return value.encode()
        path = self.gateway.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def category(self, code: str | None) -> CategorySettings | None:
        return next((c for c in self.categories if c.code == code), None)

    def offered(self) -> list[CategorySettings]:
        """The categories forms offer: a disabled one stays known for its tickets but is not chosen anew."""
        return [c for c in self.categories if c.enabled]

    def utility(self, code: str | None) -> UtilitySettings | None:
        return next((u for u in self.utilities if u.code == code), None)

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.gateway.timezone)


def _location(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(top level)"


def _one_line(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = _location(err)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key (typo?)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {where}: {msg}{more}"


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


EMBEDDED_DEFAULTS = Path(__file__).parent / "defaults" / "config.example.toml"


def load_config(path: Path | None) -> Config:
    """Read a TOML file; None gives the embedded defaults (the shipped example, catalogue included)."""
    if path is None:
        path = EMBEDDED_DEFAULTS
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if path != EMBEDDED_DEFAULTS and "utilities" not in data and "categories" not in data:
        # A file that names no catalogue gets the shipped one (Serbian utilities and categories).
        defaults = tomllib.loads(EMBEDDED_DEFAULTS.read_text(encoding="utf-8"))
        data["utilities"], data["categories"] = defaults["utilities"], defaults["categories"]
    config = parse_config(data, str(path))
    try:
        config.database_url()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if path != EMBEDDED_DEFAULTS:
        # the directory the file is named in (config.example.toml is a symlink into the package)
        anchor_paths(config, path.absolute().parent)
    return config


def anchor_paths(config: BaseModel, base: Path) -> None:
    """Make a file's relative paths relative to the file's directory, not to the shell's: every command
    given the same --config (the gateway, `token create` from elsewhere) must open the same database.
    The embedded defaults keep the working directory (`scripts/run.sh` runs in the checkout)."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, Path) and not value.is_absolute():
            setattr(config, name, base / value)
        elif isinstance(value, BaseModel):
            anchor_paths(value, base)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    anchor_paths(item, base)
    if isinstance(config, Config):
        url = config.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
            config.database.url = "sqlite:///" + str(base / url.removeprefix("sqlite:///"))
        sms = config.sms
        if sms.model == "dummy" and not Path(sms.device).is_absolute():
            sms.device = str(base / sms.device)  # the dummy driver's device is a directory
        if sms.debug_file and not Path(sms.debug_file).is_absolute():
            sms.debug_file = str(base / sms.debug_file)
