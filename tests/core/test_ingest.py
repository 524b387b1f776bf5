"""Inbox.ingest: idempotency, citizen matching, threading, keywords, acknowledgements."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from gateway.tickets import Actor
from storage.blobs import raw_bytes
from storage.db import session_scope
from storage.models import Citizen, CitizenIdentity, Message, OutboxMessage, Ticket
from tests.core.helpers import mail, sms, voicemail


def _outbox(gw: Any) -> list[OutboxMessage]:
    with session_scope(gw.engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_new_sms_opens_a_received_ticket_with_reference(gateway: Any) -> None:
    result = gateway.inbox.ingest_sync(
        sms(gateway, "064 123 4567", "Ne radi sijalica u Ulici kralja Petra 12")
    )
    assert result.created and not result.duplicate
    assert result.reference == "S48-2026-000001"
    with session_scope(gateway.engine) as s:
        ticket = s.get(Ticket, result.ticket_id)
        assert ticket is not None
        assert ticket.status == "received"
        assert ticket.suggested_category == "javna_rasveta"
        identity = s.exec(select(CitizenIdentity)).one()
        assert identity.value == "+381641234567"


def test_redelivery_of_the_same_message_returns_the_existing_ticket(gateway: Any) -> None:
    contact = sms(gateway, "+381641234567", "Pukla cev", external_id="same-pdu")
    first = gateway.inbox.ingest_sync(contact)
    again = gateway.inbox.ingest_sync(contact)
    assert again.duplicate and not again.created
    assert again.ticket_id == first.ticket_id
    with session_scope(gateway.engine) as s:
        assert len(s.exec(select(Message)).all()) == 1
        assert len(s.exec(select(Ticket)).all()) == 1


def test_references_count_up_per_year(gateway: Any) -> None:
    refs = [gateway.inbox.ingest_sync(sms(gateway, f"+38164111000{i}", "rupa")).reference for i in range(3)]
    assert refs == ["S48-2026-000001", "S48-2026-000002", "S48-2026-000003"]


def test_same_citizen_by_phone_in_any_format(gateway: Any) -> None:
    gateway.inbox.ingest_sync(sms(gateway, "0641234567", "prvo"))
    gateway.clock.advance(days=10)
    gateway.inbox.ingest_sync(sms(gateway, "+381 64 123 4567", "drugo"))
    with session_scope(gateway.engine) as s:
        assert len(s.exec(select(Citizen)).all()) == 1


def test_sms_within_window_threads_into_open_ticket(gateway: Any) -> None:
    first = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Pukla cev kod skole"))
    gateway.clock.advance(hours=2)
    second = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "I dalje curi"))
    assert not second.created and second.ticket_id == first.ticket_id


def test_sms_after_window_opens_new_ticket(gateway: Any) -> None:
    first = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Pukla cev kod skole"))
    gateway.clock.advance(hours=100)
    second = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Rupa na putu"))
    assert second.created and second.ticket_id != first.ticket_id


def test_mail_reply_threads_by_reference_in_subject(gateway: Any) -> None:
    first = gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Smece nije odneto"))
    reply = gateway.inbox.ingest_sync(
        mail(
            gateway,
            "Pera@Example.rs",
            "Evo slike",
            subject=f"Re: [{first.reference}] Prijava primljena",
            thread_hints=(first.reference,),
        )
    )
    assert reply.ticket_id == first.ticket_id and not reply.created


def test_reference_from_someone_else_does_not_thread(gateway: Any) -> None:
    first = gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Smece nije odneto"))
    other = gateway.inbox.ingest_sync(
        mail(gateway, "mika@example.rs", "ja isto", thread_hints=(first.reference,))
    )
    assert other.created and other.ticket_id != first.ticket_id


def test_reply_to_our_signed_message_id_threads(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    first = gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Smece nije odneto"))
    ack = next(o for o in _outbox(gateway) if o.kind == "ack")
    assert ack.message_id_header
    reply = gateway.inbox.ingest_sync(
        mail(
            gateway,
            "pera@example.rs",
            "hvala",
            subject="Re: hvala",
            thread_hints=(ack.message_id_header.strip("<>"),),
        )
    )
    assert reply.ticket_id == first.ticket_id


def test_forged_message_id_does_not_thread(gateway: Any) -> None:
    first = gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Smece nije odneto"))
    forged = f"{first.reference}.abcd1234.0123456789abcdef@sistem48.localhost"
    other = gateway.inbox.ingest_sync(
        mail(gateway, "pera@example.rs", "novo", subject="Novo", thread_hints=(forged,))
    )
    assert other.created


def test_plus_address_threads(gateway: Any) -> None:
    first = gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Smece nije odneto"))
    token = gateway.signer.plus_token(first.reference)
    reply = gateway.inbox.ingest_sync(
        mail(gateway, "pera@example.rs", "dopuna", subject="dopuna", thread_hints=(token,))
    )
    assert reply.ticket_id == first.ticket_id


def test_quarantined_mail_is_kept_without_ticket(gateway: Any) -> None:
    contact = mail(gateway, "", "", raw=b"\x00garbage", meta={"quarantine": "no headers"})
    result = gateway.inbox.ingest_sync(contact)
    assert result.quarantined and result.ticket_id is None
    with session_scope(gateway.engine) as s:
        msg = s.exec(select(Message)).one()
        assert msg.quarantine_reason == "no headers"
        assert raw_bytes(gateway.blobs, msg.raw_inline, msg.raw_sha256) == b"\x00garbage"


def test_bounce_opens_no_ticket(gateway: Any) -> None:
    result = gateway.inbox.ingest_sync(
        mail(
            gateway,
            "mailer-daemon@example.rs",
            "Undelivered",
            meta={"auto": "bounce", "suppress_ack": "1"},
        )
    )
    assert result.ticket_id is None


def test_sms_stop_opts_out_and_confirms_once(gateway: Any) -> None:
    gateway.config.sms.enabled = True
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Rupa na putu"))
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "STOP"))
    with session_scope(gateway.engine) as s:
        assert s.exec(select(CitizenIdentity)).one().opted_out
    kinds = [o.kind for o in _outbox(gateway)]
    assert kinds == ["ack", "stop"]


def test_sms_status_keyword_in_cyrillic_replies_with_status(gateway: Any) -> None:
    gateway.config.sms.enabled = True
    first = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Rupa na putu"))
    gateway.clock.advance(days=5)
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", f"СТАТУС {first.reference}"))
    reply = next(o for o in _outbox(gateway) if o.kind == "status_reply")
    assert first.reference in reply.body and "primljena" in reply.body


def test_status_of_unknown_reference_says_not_found(gateway: Any) -> None:
    gateway.config.sms.enabled = True
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "status S48-2026-999999"))
    assert "nije pronadjena" in _outbox(gateway)[0].body  # Latin SMS go without diacritics (GSM-7)


def test_cyrillic_sms_gets_cyrillic_acknowledgement(gateway: Any) -> None:
    gateway.config.sms.enabled = True
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Не ради сијалица у улици"))
    ack = _outbox(gateway)[0]
    assert "Пријава примљена" in ack.body and "/s/S48-2026-000001/" in ack.body


def test_auto_submitted_mail_gets_no_acknowledgement(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    gateway.inbox.ingest_sync(
        mail(
            gateway,
            "pera@example.rs",
            "vacation",
            meta={"auto": "auto-replied", "suppress_ack": "1"},
        )
    )
    assert _outbox(gateway) == []


def test_acknowledgements_are_rate_limited_per_sender(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    for i in range(8):
        gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", f"prijava {i}", subject=f"s{i}"))
    acks = [o for o in _outbox(gateway) if o.kind == "ack"]
    assert len(acks) == gateway.config.mail.max_acks_per_sender_per_hour


def test_concurrent_ingests_share_commits_and_each_gets_its_own_ticket(gateway: Any) -> None:
    import asyncio

    async def burst() -> list[Any]:
        contacts = [sms(gateway, f"+3816400000{i:02d}", f"rupa {i}") for i in range(40)]
        contacts.append(contacts[0])  # the same SMS delivered twice in the same burst
        return await asyncio.gather(*(gateway.inbox.ingest(c) for c in contacts))

    results = asyncio.run(burst())
    refs = {r.reference for r in results}
    assert len(refs) == 40
    assert results[-1].duplicate and results[-1].ticket_id == results[0].ticket_id
    with session_scope(gateway.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 40


def test_a_failing_contact_does_not_sink_the_rest_of_its_batch(gateway: Any) -> None:
    good = sms(gateway, "+381641234567", "rupa")
    bad = sms(gateway, "+381641234568", "rupa", meta={"after_hours": "1"})
    real = gateway.inbox._ingest_in

    def explode(s: Any, contact: Any, *a: Any) -> Any:
        if contact is bad:
            raise RuntimeError("injected fault")
        return real(s, contact, *a)

    gateway.inbox._ingest_in = explode
    outcomes = gateway.inbox.ingest_many_sync([good, bad])
    assert outcomes[0].created and isinstance(outcomes[1], RuntimeError)
    with session_scope(gateway.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 1


def test_bounce_of_our_acknowledgement_marks_the_address_undeliverable(gateway: Any) -> None:
    from channels.base import ChannelKind, DeliveryReport, DeliveryState

    gateway.config.mail.enabled = True
    gateway.inbox.ingest_sync(mail(gateway, "pera@example.rs", "Smece nije odneto"))
    ack = next(o for o in _outbox(gateway) if o.kind == "ack")
    forged = DeliveryReport(
        ChannelKind.EMAIL,
        "pera@example.rs",
        DeliveryState.FAILED,
        gateway.clock(),
        provider_ref="made-up@sistem48.localhost",
        detail="550 no such user",
    )
    gateway.inbox.record_delivery_sync(forged)
    with session_scope(gateway.engine) as s:
        assert not s.exec(select(CitizenIdentity)).one().undeliverable
    real = DeliveryReport(
        ChannelKind.EMAIL,
        "pera@example.rs",
        DeliveryState.FAILED,
        gateway.clock(),
        provider_ref=(ack.message_id_header or "").strip("<>"),
        detail="550 no such user",
    )
    gateway.inbox.record_delivery_sync(real)
    with session_scope(gateway.engine) as s:
        assert s.exec(select(CitizenIdentity)).one().undeliverable
        assert s.get(OutboxMessage, ack.id).delivery == "failed"


def test_sms_delivery_report_matches_by_reference_and_recipient(gateway: Any) -> None:
    from channels.base import ChannelKind, DeliveryReport, DeliveryState
    from storage.queue import settle_outbox

    gateway.config.sms.enabled = True
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "rupa"))
    ack = _outbox(gateway)[0]
    settle_outbox(gateway.engine, ack.id, gateway.clock(), sent=True, provider_ref="17")
    gateway.inbox.record_delivery_sync(
        DeliveryReport(ChannelKind.SMS, "+381641234567", DeliveryState.DELIVERED, gateway.clock(), "17")
    )
    with session_scope(gateway.engine) as s:
        assert s.get(OutboxMessage, ack.id).delivery == "delivered"


def test_sms_delivery_report_with_the_number_as_on_the_wire_matches_its_message(gateway: Any) -> None:
    from channels.base import ChannelKind, DeliveryReport, DeliveryState
    from storage.queue import settle_outbox

    gateway.config.sms.enabled = True
    gateway.inbox.ingest_sync(sms(gateway, "064 1234567", "rupa"))
    ack = _outbox(gateway)[0]
    settle_outbox(gateway.engine, ack.id, gateway.clock(), sent=True, provider_ref="21")
    gateway.inbox.record_delivery_sync(
        DeliveryReport(ChannelKind.SMS, "0641234567", DeliveryState.FAILED, gateway.clock(), "21")
    )
    with session_scope(gateway.engine) as s:
        assert s.get(OutboxMessage, ack.id).delivery == "failed"


def test_missed_call_is_logged_for_call_back(gateway: Any) -> None:
    from channels.base import CallOutcome, CallRecord
    from storage.models import CallLog

    call = CallRecord("abc@pbx", "0641234567", "48", gateway.clock(), 1.2, CallOutcome.MISSED, True)
    gateway.inbox.record_call_sync(call)
    gateway.inbox.record_call_sync(call)  # reported twice: still one row
    with session_scope(gateway.engine) as s:
        row = s.exec(select(CallLog)).one()
        assert row.caller == "+381641234567" and row.needs_callback and row.outcome == "missed"


def test_latin_automatic_sms_fit_one_gsm7_part_but_a_persons_reply_is_sent_as_typed(gateway: Any) -> None:
    from sms.codec import count_parts

    gateway.config.sms.enabled = True
    ref = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Pukla cev u Čačanskoj")).reference
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gateway.tickets.reply(
            s, ticket, Actor("ana", "operator"), "Ekipa je krenula, hvala na strpljenju: č ć đ"
        )
    ack, reply = _outbox(gateway)
    assert (
        count_parts(ack.body, "keep_script").encoding == "gsm7"
        and count_parts(ack.body, "keep_script").parts == 1
    )
    assert "č ć đ" in reply.body


def test_a_voicemail_callers_national_number_is_read_by_the_core_as_e164(gateway: Any) -> None:
    result = gateway.inbox.ingest_sync(voicemail(gateway, "064 123 4567", b"RIFF\x00\x00\x00\x00WAVE"))
    with session_scope(gateway.engine) as s:
        ticket = s.get(Ticket, result.ticket_id)
        query = select(CitizenIdentity).where(CitizenIdentity.citizen_id == ticket.citizen_id)
        identity = s.exec(query).one()
        assert (identity.kind, identity.value) == ("phone", "+381641234567")
