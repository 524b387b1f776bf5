"""The citizen's status page as a citizen reads it: plain words, category name, location, the
after-repair photo, no English, a map only with tiles, and the "not fixed" button."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlmodel import select

from gateway.photos import gps_from_photo
from gateway.statuslink import status_path
from gateway.tickets import SYSTEM, Change, Status
from gateway.web.citizen_pages import form_key
from storage.db import session_scope
from storage.models import Message, OutboxMessage, Ticket, TicketEvent
from tests.core.helpers import sms
from tests.open311.conftest import PHONE, Env
from tests.open311.test_workorders import as_mail, assigned, utility_reply, work_order_row

ENGLISH = re.compile(r"\b(the|is|not|fixed|citizen|reports|status|received|open|assigned|resolved)\b")


def resolved(
    env: Env, text: str = "Ne radi svetiljka u ulici Kralja Petra 12", photo: bool = True, phone: str = PHONE
) -> Ticket:
    t = assigned(env, sms(env.gw, phone, text))
    with session_scope(env.gw.engine, write=True) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == t.reference)).one()
        row.location_text = "Kralja Petra 12"
        row.lat, row.lon = 44.6650, 20.9300
        s.add(row)
    order = as_mail(work_order_row(env, t.id))
    reply = utility_reply(env, order, f"ZAVRŠENO\nZamenjena sijalica. {text[-4:]}", photo=photo)
    env.gw.inbox.ingest_sync(reply)
    with session_scope(env.gw.engine) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == t.reference)).one()
        assert row.status == "resolved"
        s.expunge(row)
        return row


def visible_text(page: str) -> str:
    body = page.split("<body>", 1)[1]
    return re.sub(r"<[^>]+>", " ", body)


def test_status_page_speaks_plainly_and_shows_category_location_and_after_photo(env: Env) -> None:
    t = resolved(env)
    r = env.client.get(status_path(env.gw.signer, t.reference, t.public_token))
    assert r.status_code == 200
    page = r.text
    text = visible_text(page)
    assert "Služba javlja da je problem otklonjen." in text
    assert "Javna rasveta" in text and "javna_rasveta" not in page  # the name, not the code
    assert "Kralja Petra 12" in text and "Zamenjena sijalica." in text
    assert ENGLISH.search(text) is None, ENGLISH.search(text)
    assert "<script" not in page and 'class="map"' not in page  # no tiles configured: no map
    photo = re.search(r'<img class="after" src="([^"]+)"', page)
    assert photo is not None
    image = env.client.get(photo.group(1))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert gps_from_photo(image.content) is None and Image.open(io.BytesIO(image.content)).getexif() == {}
    csp = r.headers["content-security-policy"]
    assert "img-src 'self' data:" in csp and "form-action 'self'" in csp and "script-src" not in csp


def test_cyrillic_reporter_reads_everything_in_cyrillic(env: Env) -> None:
    t = resolved(env, "Не ради светиљка у улици Краља Петра")
    text = visible_text(env.client.get(status_path(env.gw.signer, t.reference, t.public_token)).text)
    assert "Служба јавља да је проблем отклоњен." in text and "Није отклоњено" in text
    typed_by_staff = {"Kralja", "Petra", "Zamenjena", "sijalica"}  # values are shown as written
    latin_words = [w for w in re.findall(r"[A-Za-zčćžšđ]{3,}", text) if w not in typed_by_staff]
    assert latin_words == [], latin_words


def test_a_map_tile_with_a_pin_only_when_tiles_are_configured(env: Env) -> None:
    t = resolved(env, photo=False)
    env.gw.config.http.map_tiles_url = "https://tiles.example.rs/{z}/{x}/{y}.png"
    r = env.client.get(status_path(env.gw.signer, t.reference, t.public_token))
    assert re.search(r'<img src="https://tiles\.example\.rs/17/\d+/\d+\.png"', r.text)
    assert "img-src 'self' data: https://tiles.example.rs" in r.headers["content-security-policy"]
    assert '<img class="after"' not in r.text


def press_not_fixed(env: Env, t: Ticket, comment: str, nonce: str = "n1") -> int:
    path = status_path(env.gw.signer, t.reference, t.public_token)
    token = path.rsplit("/", 1)[1]
    form = {"key": form_key(env.gw, t.reference, token), "nonce": nonce, "comment": comment}
    r = env.client.post(f"{path}/nije", data=form, follow_redirects=False)
    if r.status_code == 303:
        assert r.headers["location"] == f"{path}?ok=1"
        assert "ponovo otvorena" in env.client.get(r.headers["location"]).text
    return r.status_code


def test_not_fixed_button_reopens_exactly_as_a_nije_reply_does(env: Env) -> None:
    by_button = resolved(env)
    by_sms = resolved(env, "Ne radi svetiljka kod skole")
    assert press_not_fixed(env, by_button, "I dalje ne svetli.") == 303
    env.gw.inbox.ingest_sync(sms(env.gw, PHONE, f"NIJE {by_sms.reference} I dalje ne svetli."))

    def trail(ticket: Ticket) -> tuple[str, list[tuple[str, str | None, str | None, str | None]], list[str]]:
        with session_scope(env.gw.engine) as s:
            row = s.exec(select(Ticket).where(Ticket.id == ticket.id)).one()
            events = s.exec(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
            ).all()
            after = [e for e in events if e.at >= env.gw.clock()]
            outbox = s.exec(
                select(OutboxMessage.kind)
                .where(OutboxMessage.ticket_id == ticket.id)
                .order_by(OutboxMessage.id)
            ).all()
            return row.status, [(e.kind, e.from_status, e.to_status, e.note) for e in after], list(outbox)

    assert trail(by_button) == trail(by_sms)
    assert trail(by_button)[0] == "open"
    with session_scope(env.gw.engine) as s:
        message = s.exec(
            select(Message).where(Message.ticket_id == by_button.id, Message.channel == "web")
        ).one()
        assert message.body == "NIJE: I dalje ne svetli." and message.direction == "in"


def test_pressing_twice_or_with_a_forged_form_changes_nothing_more(env: Env) -> None:
    t = resolved(env)
    assert press_not_fixed(env, t, "") == 303
    assert press_not_fixed(env, t, "") == 303  # the same form again (same nonce)
    with session_scope(env.gw.engine) as s:
        messages = s.exec(select(Message).where(Message.ticket_id == t.id, Message.channel == "web")).all()
        assert len(messages) == 1
    other = resolved(env, "Ne radi svetiljka kod parka", phone="+381641112223")
    path = status_path(env.gw.signer, other.reference, other.public_token)
    forged = env.client.post(f"{path}/nije", data={"key": "x" * 16, "nonce": "a"}, follow_redirects=False)
    assert forged.status_code == 404
    with session_scope(env.gw.engine) as s:
        assert s.exec(select(Ticket.status).where(Ticket.id == other.id)).one() == "resolved"


def test_the_button_is_offered_only_on_a_resolved_ticket(env: Env) -> None:
    t = assigned(env, sms(env.gw, PHONE, "Ne radi svetiljka"))
    page = env.client.get(status_path(env.gw.signer, t.reference, t.public_token)).text
    assert "<form" not in page and "Kod službe" in page
    with session_scope(env.gw.engine, write=True) as s:
        row = s.exec(select(Ticket).where(Ticket.id == t.id)).one()
        env.gw.tickets.transition(s, row, Status.RESOLVED, SYSTEM, Change(note="Popravljeno."))
    page = env.client.get(status_path(env.gw.signer, t.reference, t.public_token)).text
    assert "<form" in page and "Nije otklonjeno" in page


def test_the_button_works_on_a_page_opened_from_an_older_long_e_mail_link(env: Env) -> None:
    t = resolved(env)
    page = env.client.get(f"/s/{t.reference}", params={"t": t.public_token}).text
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert action and key
    r = env.client.post(action.group(1), data={"key": key.group(1), "nonce": "old"}, follow_redirects=False)
    assert r.status_code == 303
    with session_scope(env.gw.engine) as s:
        assert s.exec(select(Ticket.status).where(Ticket.id == t.id)).one() == "open"
