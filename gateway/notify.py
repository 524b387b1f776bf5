"""The words the gateway says to citizens: status labels, SMS and e-mail templates, written once in
Latin; a Cyrillic-writing citizen gets them transliterated. gateway/outbox.py puts them in rows."""

from __future__ import annotations

import re
from typing import Any

from gateway.text import lat_to_cyr
from sms.codec import count_parts
from sms.codec import prepare_text as sms_text

STATUS_LABEL = {
    "received": "primljena",
    "open": "prihvaćena",
    "assigned": "prosleđena nadležnoj službi",
    "in_progress": "u radu",
    "resolved": "rešena",
    "closed": "zatvorena",
    "waiting": "na čekanju",
    "forwarded": "prosleđena van nadležnosti grada",
    "duplicate": "spojena sa drugom prijavom",
    "discarded": "odbačena",
}

SMS_TEMPLATES = {
    # Short enough for one SMS part where the values allow: 160 characters for Latin (sent without
    # diacritics, GSM-7), 70 for Cyrillic (UCS-2). `sistem48 check-config` prints the counts.
    "ack": "Sistem48: prijava {ref} je primljena, odgovor za 48 sati. Status: {url}",
    "ack_voice": "Sistem48: govorna poruka je primljena kao prijava {ref}. Status: {url}",
    "open": "Sistem48: prijava {ref} je prihvaćena, rok {due}.",
    "assigned": "Sistem48: prijava {ref} prosleđena: {utility}.",
    "in_progress": "Sistem48: po prijavi {ref} se radi.",
    "resolved": "Sistem48: prijava {ref} je rešena. Ako nije, pišite NIJE.",
    "closed": "Sistem48: prijava {ref} je zatvorena.",
    "waiting": "Sistem48: prijava {ref} čeka: {note}",
    "forwarded": "Sistem48: {ref} nije u nadležnosti grada; prosleđeno: {where}",
    "duplicate": "Sistem48: prijava {ref} spojena je sa {original}.",
    "status_reply": "Sistem48: prijava {ref} je {label}.{due_part}",
    "unknown_ref": "Sistem48: prijava {ref} nije pronađena.",
    "stop": "Sistem48: odjavljeni ste, više nećete dobijati SMS.",
    "reply": "Sistem48 ({ref}): {text}",
}

# Used when the full text would take a second part (a Cyrillic SMS carries 70 characters): the
# link names the reference, so reference and status link still arrive in one part.
SMS_SHORT_TEMPLATES = {
    "ack": "Prijava primljena: {url}",
    "ack_voice": "Poruka primljena: {url}",
}

EMAIL_SUBJECTS = {
    "ack": "Prijava primljena",
    "open": "Prijava prihvaćena",
    "assigned": "Prijava prosleđena službi",
    "in_progress": "Po prijavi se radi",
    "resolved": "Prijava rešena",
    "closed": "Prijava zatvorena",
    "waiting": "Prijava na čekanju",
    "forwarded": "Prijava prosleđena van nadležnosti",
    "duplicate": "Prijava spojena",
    "status_reply": "Status prijave",
    "reply": "Odgovor na prijavu",
}

EMAIL_BODY = """Poštovani,

{line}

Broj prijave: {ref}
Status: {label}{due_line}
Pregled statusa: {url}

Na ovu poruku možete odgovoriti; odgovor se dodaje vašoj prijavi {ref}.

Sistem 48 — gradski kontakt centar
"""

EMAIL_LINES = {
    "ack": "vaša prijava je primljena i registrovana. Status ćete dobiti u roku od 48 sati.",
    "open": "vaša prijava je prihvaćena i upućena na rešavanje.",
    "assigned": "vaša prijava je prosleđena nadležnoj službi: {utility}.",
    "in_progress": "nadležna služba radi po vašoj prijavi.",
    "resolved": "vaša prijava je rešena: {note}\nAko problem nije otklonjen, odgovorite rečju NIJE.",
    "closed": "vaša prijava je zatvorena.",
    "waiting": "vaša prijava čeka: {note}",
    "forwarded": "prijava nije u nadležnosti grada i prosleđena je: {where}",
    "duplicate": "vaša prijava je spojena sa prijavom {original} o istom problemu.",
    "status_reply": "stanje vaše prijave je: {label}.",
    "reply": "{text}",
}

_PLACEHOLDER = re.compile(r"(\{[^{}]*\})")


def sms_body(
    kind: str, script: str, *, automatic: bool = True, template: str | None = None, **values: Any
) -> str:
    """The SMS text of a template. One diacritic makes a whole SMS UCS-2 (70 instead of 160
    characters a part), so Latin readers get our automatic texts without them — as Serbians text
    each other anyway; Cyrillic readers get Cyrillic. A person's reply is sent as typed."""
    body = _sms_text(template or SMS_TEMPLATES.get(kind, SMS_TEMPLATES["reply"]), script, automatic, values)
    if template is None and kind in SMS_SHORT_TEMPLATES and count_parts(body, "keep_script").parts > 1:
        body = _sms_text(SMS_SHORT_TEMPLATES[kind], script, automatic, values)
    return body


def _sms_text(template: str, script: str, automatic: bool, values: dict[str, Any]) -> str:
    body = render(template, script, **values)
    return sms_text(body, "gsm7_latin") if script == "latin" and automatic else body


def render(template: str, script: str, **values: Any) -> str:
    """Fill a Latin template; for Cyrillic readers transliterate the words but never the values."""
    if script == "cyrillic":
        template = "".join(
            part if _PLACEHOLDER.fullmatch(part) else lat_to_cyr(part)
            for part in _PLACEHOLDER.split(template)
        )
    return template.format(**values)
