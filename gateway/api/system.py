"""Health and metrics: per-channel state for /healthz, Prometheus text for /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlmodel import col, func, select

from channels.base import ChannelState
from gateway.api.deps import GW
from storage.db import session_scope
from storage.models import InboundSpool, Job, OutboxMessage, Ticket

router = APIRouter(tags=["system"])
_HEALTHY = {ChannelState.UP}


def _counts(gw: Any) -> dict[str, Any]:
    with session_scope(gw.engine) as s:
        backlog = dict(
            s.exec(
                select(OutboxMessage.channel, func.count())
                .where(OutboxMessage.state == "queued")
                .group_by(OutboxMessage.channel)
            ).all()
        )
        by_status = dict(s.exec(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
        overdue = s.exec(select(func.count()).select_from(Ticket).where(col(Ticket.overdue).is_(True))).one()
        jobs = dict(
            s.exec(
                select(Job.state, func.count())
                .where(col(Job.state).in_(["queued", "running", "failed"]))
                .group_by(Job.state)
            ).all()
        )
        spool = dict(
            s.exec(
                select(InboundSpool.state, func.count())
                .where(col(InboundSpool.state).in_(["queued", "running", "failed"]))
                .group_by(InboundSpool.state)
            ).all()
        )
    return {
        "outbox_backlog": backlog,
        "tickets": by_status,
        "overdue": overdue,
        "jobs": jobs,
        "mail_spool": spool,  # accepted mail not parsed yet; "failed" needs staff (/api/v1/quarantine)
    }


@router.get("/healthz")
def healthz(gw: GW, response: Response) -> dict[str, Any]:
    statuses = gw.supervisor.statuses() if gw.supervisor else []
    channels = {
        st.name: {
            "state": st.state.value,
            "detail": st.detail,
            "since": st.since.isoformat() if st.since else None,
            "metrics": dict(st.metrics),
        }
        for st in statuses
    }
    try:
        counts = _counts(gw)
        database = "up"
    except Exception as exc:  # the database being down is exactly what health must report
        counts, database = {}, f"down: {type(exc).__name__}"
    outbound = gw.outbox.health.snapshot() if gw.outbox is not None else {}
    blobs = gw.blobs.health()
    transcription = gw.transcription.health() if gw.transcription is not None else None
    ok = (
        (transcription is None or transcription["state"] == "up")
        and database == "up"
        and all(st.state in _HEALTHY for st in statuses)
        and all(m["state"] == "up" for m in outbound.values())
        and blobs["state"] == "up"
    )
    response.status_code = 200 if ok else 503
    return {
        "status": "ok" if ok else "degraded",
        "database": database,
        "channels": channels,
        "outbound": outbound,  # per medium, from this process's sender: relay refusing, modem gone
        "storage": {"blobs": blobs},
        "transcription": transcription,  # degraded while the model is missing or broken
        **counts,
    }


@router.get("/metrics")
def metrics(gw: GW) -> Response:
    registry = CollectorRegistry()
    up = Gauge("sistem48_channel_up", "1 when the channel is up", ["channel", "state"], registry=registry)
    chan_metric = Gauge(
        "sistem48_channel_metric", "channel-reported values", ["channel", "name"], registry=registry
    )
    for st in gw.supervisor.statuses() if gw.supervisor else []:
        up.labels(st.name, st.state.value).set(1 if st.state in _HEALTHY else 0)
        for name, value in st.metrics.items():
            chan_metric.labels(st.name, name).set(float(value))
    if gw.outbox is not None:
        outbound = Gauge(
            "sistem48_outbound_up", "1 when delivery on the medium works", ["medium"], registry=registry
        )
        for medium, health in gw.outbox.health.snapshot().items():
            outbound.labels(medium).set(1 if health["state"] == "up" else 0)
    blobs = gw.blobs.health()
    Gauge("sistem48_blobs_up", "1 when the blob store takes writes", registry=registry).set(
        1 if blobs["state"] == "up" else 0
    )
    if blobs["free_bytes"] is not None:
        Gauge("sistem48_blobs_free_bytes", "free space for blobs", registry=registry).set(blobs["free_bytes"])
    counts = _counts(gw)
    backlog = Gauge("sistem48_outbox_backlog", "queued outbound messages", ["channel"], registry=registry)
    for channel, n in counts["outbox_backlog"].items():
        backlog.labels(channel).set(n)
    tickets = Gauge("sistem48_tickets", "tickets by status", ["status"], registry=registry)
    for st_name, n in counts["tickets"].items():
        tickets.labels(st_name).set(n)
    Gauge("sistem48_tickets_overdue", "overdue tickets", registry=registry).set(counts["overdue"])
    jobs = Gauge("sistem48_jobs", "background jobs by state", ["state"], registry=registry)
    for state, n in counts["jobs"].items():
        jobs.labels(state).set(n)
    spool = Gauge("sistem48_mail_spool", "spooled inbound mail by state", ["state"], registry=registry)
    for state, n in counts["mail_spool"].items():
        spool.labels(state).set(n)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
