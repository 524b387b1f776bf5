"""Work orders: photos without EXIF, the utility's reply keywords applied through TicketService, the
round trip over real SMTP, nothing personal reaching the utility, reminders along the chain, webhooks."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from PIL import Image
from sqlmodel import col, select

from gateway.photos import gps_from_photo
from gateway.tickets import SYSTEM, Change, Status
from gateway.workers import OutboxSender
from gateway.workorders import (
    DONE,
    IN_PROGRESS,
    NOT_OURS,
    RECEIVED,
    WorkOrderReminders,
    WorkOrderSettings,
    escalation_chain,
    parse_reply,
)
from mail.intake import contact_from_bytes
from mail.notifier import MailNotifier
from mail.settings import MailRelaySettings, MailSettings
from storage.db import session_scope
from storage.models import AttachmentRow, Message, OutboxMessage, Ticket, TicketEvent
from tests.core.helpers import mail, sms
from tests.open311.conftest import (
    CAMERA,
    EMAIL,
    GPS,
    NAME,
    PHONE,
    CollectingRelay,
    Env,
    photo_with_exif,
    running_relay,
)

UTILITY = "rasveta@rasveta.localhost"
SETTINGS = WorkOrderSettings()


@pytest.mark.parametrize(
    ("text", "action", "note"),
    [
        ("ZAVRŠENO\nZamenjena sijalica.", DONE, "Zamenjena sijalica."),
        ("zavrseno: zamenjena sijalica", DONE, "zamenjena sijalica"),
        ("ЗАВРШЕНО — замењена сијалица", DONE, "замењена сијалица"),
        ("Urađeno.", DONE, ""),
        ("URADJENO\n\nstub ispravljen\n--\nMarko, dispečer", DONE, "stub ispravljen"),
        ("УРАЂЕНО", DONE, ""),
        ("\n\n  u radu, ekipa izlazi", IN_PROGRESS, "ekipa izlazi"),
        ("У РАДУ", IN_PROGRESS, ""),
        ("Primljeno", RECEIVED, ""),
        ("ПРИМЉЕНО", RECEIVED, ""),
        ("NIJE NAŠE - to je Vodovod", NOT_OURS, "to je Vodovod"),
        ("nije nase", NOT_OURS, ""),
        ("НИЈЕ НАШЕ", NOT_OURS, ""),
        ("Poštovani, pogledaćemo sutra", None, "Poštovani, pogledaćemo sutra"),
        ("Nije uradjeno jos", None, "Nije uradjeno jos"),
        ("", None, ""),
    ],
)
def test_reply_keywords_are_read_in_every_spelling(text: str, action: str | None, note: str) -> None:
    reply = parse_reply(text)
    assert (reply.action, reply.note) == (action, note)


# -- helpers -----------------------------------------------------------------------------------------
def assigned(env: Env, contact: Any) -> Ticket:
    reference = env.gw.inbox.ingest_sync(contact).reference
    with session_scope(env.gw.engine, write=True) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        env.gw.tickets.transition(s, row, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        env.gw.tickets.transition(s, row, Status.ASSIGNED, SYSTEM, Change())  # queues the work order
        s.flush()
        s.expunge(row)
        return row


def citizen_mail_with_photo(env: Env) -> Any:
    from channels.base import Attachment

    body = f"Ne radi svetiljka ispred broja 12. Zovite me na 064 123 4567 ili {EMAIL}. {NAME}"
    return mail(
        env.gw,
        EMAIL,
        body,
        subject=f"Svetiljka — {NAME}",
        sender_name=NAME,
        attachments=(Attachment(f"{NAME}.jpg", "image/jpeg", photo_with_exif()),),
    )


def utility_reply(
    env: Env, work_order: EmailMessage | None, text: str, *, sender: str = UTILITY, photo: bool = False,
    subject: str | None = None, ref: str | None = None,
) -> Any:  # fmt: skip
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = work_order["Reply-To"] if work_order else "sistem48@sistem48.localhost"
    msg["Subject"] = subject or (f"Re: {work_order['Subject']}" if work_order else f"[{ref}] odgovor")
    msg["Message-ID"] = f"<reply-{abs(hash((text, sender, subject)))}@rasveta.localhost>"
    if work_order:
        msg["In-Reply-To"] = work_order["Message-ID"]
        msg["References"] = work_order["Message-ID"]
    msg.set_content(text)
    if photo:
        msg.add_attachment(
            photo_with_exif((20, 200, 20)), maintype="image", subtype="jpeg", filename="posle.jpg"
        )
    rcpt = [str(msg["To"])]
    return contact_from_bytes(msg.as_bytes(), received_at=env.gw.clock(), mail_from=sender, rcpt_tos=rcpt)


def outbox(env: Env, ticket_id: int | None = None) -> list[OutboxMessage]:
    with session_scope(env.gw.engine) as s:
        q = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if ticket_id is not None:
            q = q.where(OutboxMessage.ticket_id == ticket_id)
        return list(s.exec(q).all())


def events(env: Env, ticket_id: int | None) -> list[TicketEvent]:
    with session_scope(env.gw.engine) as s:
        return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)).all())


def status_of(env: Env, ticket_id: int | None) -> str:
    with session_scope(env.gw.engine) as s:
        row = s.get(Ticket, ticket_id)
        assert row is not None
        return row.status


def work_order_row(env: Env, ticket_id: int | None) -> OutboxMessage:
    return next(r for r in outbox(env, ticket_id) if r.kind == "workorder")


def as_mail(row: OutboxMessage) -> EmailMessage:
    """The outbox row as the MIME message MailNotifier would send (for replies without SMTP)."""
    from channels.base import ChannelKind, Notification

    n = Notification(
        outbox_id=row.id or 0, channel=ChannelKind.EMAIL, recipient=row.recipient, body=row.body,
        subject=row.subject, message_id=row.message_id_header, meta={"reply_to": row.meta["reply_to"]},
    )  # fmt: skip
    return MailNotifier(MailSettings()).build_message(n)


def pii_free(text: str | bytes) -> None:
    raw = text.encode() if isinstance(text, str) else text
    for secret in (EMAIL, "064 123 4567", PHONE, "Perić", "Peri=C4=87", "Pera", CAMERA, "Exif"):
        assert secret.encode() not in raw, secret


# -- the round trip ------------------------------------------------------------------------------------
def test_work_order_round_trip_over_smtp_resolves_the_ticket_and_tells_the_citizen(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    row = work_order_row(env, t.id)
    assert row.recipient == UTILITY and len(row.meta["attachments"]) == 1
    relay = CollectingRelay()

    async def send_all() -> None:
        async with running_relay(relay) as port:
            settings = MailSettings(relay=MailRelaySettings(host="127.0.0.1", port=port, timeout_s=5))
            sender = OutboxSender(
                env.gw.engine, env.gw.blobs, {"email": MailNotifier(settings)}, env.gw.clock
            )
            while await sender.run_once():
                pass

    asyncio.run(send_all())
    to_utility = [raw for _f, rcpt, raw in relay.received if rcpt == [UTILITY]]
    assert len(to_utility) == 1
    sent = email.message_from_bytes(to_utility[0], policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    pii_free(to_utility[0])  # body, headers and attachment bytes
    photos = [p for p in sent.iter_attachments() if p.get_content_type() == "image/jpeg"]
    assert len(photos) == 1 and photos[0].get_filename() == f"{t.reference}-1.jpg"
    clean = photos[0].get_content()
    assert gps_from_photo(clean) is None and Image.open(io.BytesIO(clean)).getexif() == {}
    assert t.reference in str(sent["Subject"]) and "+" in str(sent["Reply-To"])

    reply = utility_reply(env, sent, "ZAVRŠENO\nZamenjena sijalica.\n\n--\nMarko, 011 765 4321", photo=True)
    result = env.gw.inbox.ingest_sync(reply)
    assert (result.ticket_id, result.created) == (t.id, False)
    assert status_of(env, t.id) == "resolved"
    with session_scope(env.gw.engine) as s:
        resolved = s.get(Ticket, t.id)
        after = s.exec(select(AttachmentRow).where(AttachmentRow.phase == "after")).all()
        message = s.exec(select(Message).where(Message.external_id == reply.external_id)).one()
    assert resolved is not None and resolved.resolution_note == "Zamenjena sijalica."
    assert [(a.ticket_id, a.kind, (a.lat, a.lon)) for a in after] == [(t.id, "photo", GPS)]
    assert message.citizen_id is None and message.ticket_id == t.id
    citizen_rows = [r for r in outbox(env, t.id) if r.kind == "resolved"]
    assert [(r.channel, r.recipient) for r in citizen_rows] == [("email", EMAIL)]
    assert "Zamenjena sijalica." in citizen_rows[0].body
    assert not [r for r in outbox(env) if r.recipient == UTILITY and r.kind == "ack"]

    again = env.gw.inbox.ingest_sync(reply)  # the relay delivers twice: nothing changes
    assert again.duplicate and len(outbox(env, t.id)) == len(outbox(env, t.id))


def test_nothing_personal_reaches_the_utility(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    env.gw.inbox.ingest_sync(sms(env.gw, PHONE, f"Dopuna za {t.reference}: i dalje mrak"))
    row = work_order_row(env, t.id)
    built = as_mail(row).as_bytes()
    pii_free(built)
    for att in row.meta["attachments"]:
        pii_free(env.gw.blobs.get(att["sha256"]))
        assert gps_from_photo(env.gw.blobs.get(att["sha256"])) is None
    for r in outbox(env):
        if r.recipient != EMAIL:
            pii_free(f"{r.subject}\n{r.body}\n{r.meta}")
    h = env.headers["rasveta"]
    listing = env.client.get("/api/v1/tickets", headers=h)
    assert listing.status_code == 200 and t.reference in listing.text
    pii_free(listing.text)
    detail = env.client.get(f"/api/v1/tickets/{t.reference}", headers=h).json()
    names = [a.pop("filename") for a in detail["attachments"]]  # see the test below
    assert detail["reference"] == t.reference and names
    pii_free(json.dumps(detail, ensure_ascii=False))
    for path in ("/open311/v2/requests.json", f"/open311/v2/requests/{t.reference}.xml"):
        pii_free(env.client.get(path).text)


def test_the_utility_api_does_not_show_the_reporters_file_names(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    detail = env.client.get(f"/api/v1/tickets/{t.reference}", headers=env.headers["rasveta"]).json()
    for attachment in detail["attachments"]:
        pii_free(attachment["filename"])


# -- each keyword ----------------------------------------------------------------------------------------
def test_u_radu_and_primljeno_update_the_work_order(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    wo = as_mail(work_order_row(env, t.id))
    env.gw.inbox.ingest_sync(utility_reply(env, wo, "Primljeno, izlazimo sutra"))
    assert status_of(env, t.id) == "assigned"
    notes = [e for e in events(env, t.id) if e.kind == "note" and e.actor == "utility:rasveta"]
    assert [(n.note, n.public) for n in notes] == [("izlazimo sutra", True)]
    env.gw.inbox.ingest_sync(utility_reply(env, wo, "У РАДУ"))
    assert status_of(env, t.id) == "in_progress"


def test_nije_nase_reopens_for_rerouting_and_alerts_the_coordinator(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    before = len(outbox(env, t.id))
    env.gw.inbox.ingest_sync(
        utility_reply(env, as_mail(work_order_row(env, t.id)), "NIJE NAŠE - kabl je EPS")
    )
    assert status_of(env, t.id) == "open"
    rows = outbox(env, t.id)[before:]
    coordinator = [r for r in rows if r.kind == "escalation"]
    assert [r.recipient for r in coordinator] == env.gw.config.sla.escalation_emails
    assert "kabl je EPS" in coordinator[0].body
    assert any(e.kind == "escalation" and "re-routing" in (e.note or "") for e in events(env, t.id))


def test_a_reply_not_understood_goes_to_operators_and_changes_nothing(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    before = len(outbox(env))
    result = env.gw.inbox.ingest_sync(
        utility_reply(env, as_mail(work_order_row(env, t.id)), "Poštovani, ne znamo gde je to.")
    )
    assert result.ticket_id == t.id and not result.created
    assert status_of(env, t.id) == "assigned"
    assert any(e.note and "utility reply not understood" in e.note for e in events(env, t.id))
    assert len(outbox(env)) == before  # no acknowledgement, no citizen message
    with session_scope(env.gw.engine) as s:
        kept = s.exec(select(Message).where(Message.external_id == result_external(env, result))).one()
    assert kept.ticket_id == t.id and kept.meta["utility_action"] == "not_understood"


def result_external(env: Env, result: Any) -> str:
    with session_scope(env.gw.engine) as s:
        row = s.get(Message, result.message_id)
        assert row is not None
        return row.external_id


def test_utility_mail_never_opens_a_citizen_ticket_nor_touches_another_utilitys_order(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    tickets_before = len(outbox(env))
    stray = env.gw.inbox.ingest_sync(utility_reply(env, None, "ZAVRŠENO", subject="Pitanje bez broja"))
    assert stray.ticket_id is None and stray.quarantined and not stray.created
    other = env.gw.inbox.ingest_sync(
        utility_reply(env, None, "ZAVRŠENO", sender="dispecer@vodovod.localhost", ref=t.reference)
    )
    assert other.ticket_id is None and other.quarantined
    assert status_of(env, t.id) == "assigned" and len(outbox(env)) == tickets_before
    with session_scope(env.gw.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 1
    # A subject tag alone (no reply to our signed work-order mail) is kept on the ticket for the
    # operators, but changes nothing: a forged From with a guessed reference must not resolve it.
    tagged = env.gw.inbox.ingest_sync(utility_reply(env, None, "ZAVRŠENO", ref=t.reference))
    assert tagged.ticket_id == t.id and status_of(env, t.id) == "assigned"
    with session_scope(env.gw.engine) as s:
        notes = s.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "utility_reply")
        ).all()
    assert notes and "subject tag only" in (notes[-1].note or "")


def test_a_citizens_reply_is_untouched_by_the_utility_hook(env: Env) -> None:
    t = assigned(env, citizen_mail_with_photo(env))
    reply = mail(env.gw, EMAIL, "ZAVRŠENO? Još je mrak.", subject="Re: x", thread_hints=(t.reference,))
    result = env.gw.inbox.ingest_sync(reply)
    assert result.ticket_id == t.id and status_of(env, t.id) == "assigned"


# -- reminders -----------------------------------------------------------------------------------------------
def test_overdue_work_orders_get_reminders_that_climb_the_chain(env: Env) -> None:
    t = assigned(env, sms(env.gw, PHONE, "Ne radi svetiljka"))
    with session_scope(env.gw.engine, write=True) as s:
        row = s.get(Ticket, t.id)
        assert row is not None
        row.utility = "vodovod"  # the utility with a two-address escalation chain
        s.add(row)
        due = row.due_at
    assert due is not None
    reminders = WorkOrderReminders(env.gw.engine, env.gw.config, SETTINGS, env.gw.tickets, env.gw.clock)
    chain = escalation_chain(env.gw.config, env.gw.config.utility("vodovod"))
    assert chain == [["dispecer@vodovod.localhost"], ["direktor@vodovod.localhost"],
                     ["kabinet@sistem48.localhost"], ["koordinator@sistem48.localhost"]]  # fmt: skip

    def sent() -> list[list[str]]:
        by_level: dict[str, list[str]] = {}
        for r in outbox(env, t.id):
            if r.kind == "reminder":
                by_level.setdefault(r.subject or "", []).append(r.recipient)
        return list(by_level.values())

    assert reminders.run_once_sync() == 0
    env.gw.clock.now = due + timedelta(minutes=1)
    assert reminders.run_once_sync() == 1 and reminders.run_once_sync() == 0
    env.gw.clock.now = due + timedelta(hours=24, minutes=1)
    assert reminders.run_once_sync() == 1
    env.gw.clock.now = due + timedelta(hours=49)
    assert reminders.run_once_sync() == 1 and reminders.run_once_sync() == 0
    assert sent() == [
        ["dispecer@vodovod.localhost"],
        ["dispecer@vodovod.localhost", "direktor@vodovod.localhost"],
        ["dispecer@vodovod.localhost", "direktor@vodovod.localhost", "kabinet@sistem48.localhost"],
    ]
    for r in outbox(env, t.id):
        if r.kind == "reminder":
            pii_free(f"{r.subject}{r.body}")
            assert r.meta["reply_to"].startswith("sistem48+")


def test_a_resolved_work_order_gets_no_reminder(env: Env) -> None:
    t = assigned(env, sms(env.gw, PHONE, "Ne radi svetiljka"))
    with session_scope(env.gw.engine, write=True) as s:
        row = s.get(Ticket, t.id)
        assert row is not None
        env.gw.tickets.transition(s, row, Status.RESOLVED, SYSTEM, Change(note="ok"))
    assert t.due_at is not None
    env.gw.clock.now = t.due_at + timedelta(hours=100)
    reminders = WorkOrderReminders(env.gw.engine, env.gw.config, SETTINGS, env.gw.tickets, env.gw.clock)
    assert reminders.run_once_sync() == 0
