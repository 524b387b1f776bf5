"""The administrator's daily health mail: what was degraded in the last 24 hours (channels down, failed
deliveries and transcriptions, unparsable mail, overdue work orders, little disk), queued once a day
by `sistem48 health-mail` (sistem48-healthmail.timer), and only when there is something to say."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from gateway.config import Config
from gateway.lease import try_acquire
from gateway.outbox import admin_health_mail
from storage.db import session_scope
from storage.models import InboundSpool, Job, OutboxMessage, Ticket

_WINDOW = timedelta(hours=24)
# A message to a citizen still queued after this long is a backlog, not a retry.
_STALE_OUTBOX = timedelta(hours=1)


def live_health(config: Config, timeout_s: float = 10.0) -> dict[str, Any] | None:
    """The running gateway's /healthz (its body also comes with a 503), or None when it does not answer."""
    url = f"http://{config.http.host}:{config.http.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except (OSError, ValueError):
        return None


def problems(session: Session, live: dict[str, Any] | None, now: datetime) -> list[str]:
    """Plain-words lines for each kind of trouble seen since `now - 24 h`; empty when all was well."""
    since = now - _WINDOW
    found: list[str] = []
    if live is None:
        found.append("Gateway nije odgovorio na /healthz (systemctl status sistem48).")
    else:
        for name, channel in sorted(live.get("channels", {}).items()):
            if channel.get("state") != "up":
                found.append(f"Kanal {name}: {channel.get('state')} {channel.get('detail', '')}".rstrip())
        blobs = live.get("storage", {}).get("blobs", {})
        if blobs.get("state", "up") != "up":
            found.append(f"Skladište: {blobs.get('detail', 'degradirano')}.")

    def count(query: Any) -> int:
        return int(session.exec(query).one())

    failed_out = count(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.state == "failed", col(OutboxMessage.created_at) >= since)
    )
    if failed_out:
        found.append(f"{failed_out} poruka građanima nije moglo biti isporučeno.")
    stale = count(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.state == "queued", col(OutboxMessage.created_at) < now - _STALE_OUTBOX)
    )
    if stale:
        found.append(f"{stale} poruka građanima čeka duže od sat vremena.")
    failed_jobs = count(
        select(func.count()).select_from(Job).where(Job.state == "failed", col(Job.created_at) >= since)
    )
    if failed_jobs:
        found.append(f"{failed_jobs} transkripcija govornih poruka nije uspelo.")
    failed_mail = count(
        select(func.count())
        .select_from(InboundSpool)
        .where(InboundSpool.state == "failed", col(InboundSpool.received_at) >= since)
    )
    if failed_mail:
        found.append(f"{failed_mail} mejlova nije moglo biti pročitano (karantin).")
    overdue = count(select(func.count()).select_from(Ticket).where(col(Ticket.overdue).is_(True)))
    if overdue:
        found.append(f"{overdue} radnih naloga je prekoračilo rok.")
    return found


def queue_health_mail(
    engine: sa.Engine, config: Config, clock: Callable[[], datetime], live: dict[str, Any] | None, owner: str
) -> int:
    """Queue today's mail when something was degraded; 1 when queued now, else 0 (all well, no
    recipient, or already queued today by this or another process)."""
    recipients = config.digest.recipients
    if not (config.mail.enabled and recipients):
        return 0
    now = clock()
    day = now.astimezone(config.tz()).date().isoformat()
    with session_scope(engine) as s:
        found = problems(s, live, now)
    if not found or not try_acquire(engine, f"healthmail:{day}", owner, now, timedelta(days=3)):
        return 0
    with session_scope(engine, write=True) as s:
        sent = s.exec(select(OutboxMessage.meta).where(OutboxMessage.kind == "health")).all()
        if any(meta.get("day") == day for meta in sent):
            return 0
        for row in admin_health_mail(recipients, day, found, config.gateway.public_base_url, now):
            s.add(row)
    return 1
