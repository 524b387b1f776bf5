"""UI strings in Serbian (Latin, the default) and English; `t(lang)` gives the lookup templates use."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("sr", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # key: (sr, en)
    "app": ("Sistem 48", "Sistem 48"),
    "login": ("Prijava", "Sign in"),
    "logout": ("Odjava", "Sign out"),
    "username": ("Korisničko ime", "Username"),
    "password": ("Lozinka", "Password"),
    "login_failed": ("Pogrešno korisničko ime ili lozinka.", "Wrong username or password."),
    "locked": (
        "Nalog je privremeno zaključan posle više neuspelih pokušaja.",
        "The account is locked for a while after repeated failures.",
    ),
    "inbox": ("Prijemno sanduče", "Inbox"),
    "review": ("Jutarnji pregled", "Morning review"),
    "workorders": ("Radni nalozi", "Work orders"),
    "dashboard": ("Pregled stanja", "Dashboard"),
    "ticket": ("Prijava", "Ticket"),
    "reference": ("Broj", "Reference"),
    "channel": ("Kanal", "Channel"),
    "status": ("Status", "Status"),
    "category": ("Kategorija", "Category"),
    "utility": ("Služba", "Utility"),
    "received_at": ("Primljeno", "Received"),
    "subject": ("Predmet", "Subject"),
    "text": ("Tekst", "Text"),
    "location": ("Lokacija", "Location"),
    "filter": ("Filtriraj", "Filter"),
    "all": ("Sve", "All"),
    "search": ("Pretraga", "Search"),
    "missed_calls": ("Propušteni pozivi za povratni poziv", "Missed calls to call back"),
    "caller": ("Pozivalac", "Caller"),
    "duration": ("Trajanje", "Duration"),
    "history": ("Ranije prijave", "Earlier tickets"),
    "no_history": ("Nema ranijih prijava.", "No earlier tickets."),
    "transcript": ("Transkript", "Transcript"),
    "no_transcript": ("Transkript još nije gotov.", "Transcript not ready yet."),
    "no_speech": ("Nema govora", "No speech"),
    "low_confidence": ("Niska pouzdanost", "Low confidence"),
    "suggested": ("Predložena kategorija", "Suggested category"),
    "validate": ("Potvrdi prijavu", "Validate"),
    "attach": ("Pridruži prijavi", "Attach to ticket"),
    "attach_into": ("Broj postojeće prijave", "Existing ticket reference"),
    "discard": ("Odbaci", "Discard"),
    "reason": ("Razlog", "Reason"),
    "reason_silent": ("Tišina", "Silent"),
    "reason_prank": ("Neozbiljan poziv", "Prank"),
    "reason_duplicate": ("Duplikat", "Duplicate"),
    "reason_other": ("Drugo", "Other"),
    "callback": ("Pozovi ponovo", "Call back"),
    "callback_marked": ("Označeno za povratni poziv", "Marked for call back"),
    "queue_empty": ("Nema govornih poruka za pregled.", "No voicemails to review."),
    "shortcuts": (
        "Prečice: j/k sledeća/prethodna, v potvrdi, d odbaci, c pozovi ponovo, razmak pusti/pauziraj",
        "Shortcuts: j/k next/prev, v validate, d discard, c call back, space play/pause",
    ),
    "timeline": ("Tok prijave", "Timeline"),
    "reporter": ("Podnosilac", "Reporter"),
    "photos": ("Fotografije", "Photos"),
    "map": ("Mapa", "Map"),
    "actions": ("Radnje", "Actions"),
    "assign": ("Dodeli službi", "Assign to utility"),
    "transition": ("Promeni status", "Change status"),
    "note": ("Napomena", "Note"),
    "add_note": ("Dodaj napomenu", "Add note"),
    "reply": ("Odgovori građaninu", "Reply to the citizen"),
    "send": ("Pošalji", "Send"),
    "sms_parts": ("SMS delova", "SMS parts"),
    "merge": ("Spoji kao duplikat", "Merge as duplicate"),
    "forward": ("Prosledi (van nadležnosti)", "Forward (outside competence)"),
    "forwarded_to": ("Prosleđeno kome", "Forwarded to"),
    "save": ("Sačuvaj", "Save"),
    "in_progress": ("U radu", "In progress"),
    "resolved": ("Rešeno", "Resolved"),
    "after_photo": ("Fotografija posle intervencije", "Photo after the intervention"),
    "overdue": ("Kasni", "Overdue"),
    "open": ("Otvorene", "Open"),
    "due": ("Rok", "Due"),
    "response_time": ("Vreme odziva (prijem→potvrda)", "Response time (created→validated)"),
    "resolution_time": ("Vreme rešavanja (potvrda→rešeno)", "Resolution time (validated→resolved)"),
    "within_target": ("u roku", "within target"),
    "median": ("medijana", "median"),
    "volumes": ("Prijave po kanalu i danu", "Contacts per channel and day"),
    "health": ("Stanje kanala", "Channel health"),
    "outbox_backlog": ("Poruke na čekanju za slanje", "Outbound messages waiting"),
    "no_channels": ("Nijedan kanal ne radi u ovom procesu.", "No channel runs in this process."),
    "outbound": ("Odlazna poruka", "Outbound message"),
    "inbound": ("Dolazna poruka", "Inbound message"),
    "event": ("Događaj", "Event"),
    "nothing": ("Ništa za prikaz.", "Nothing to show."),
    "error": ("Greška", "Error"),
    "done": ("Urađeno", "Done"),
    "hours": ("h", "h"),
    "language": ("English", "Srpski"),
    "per_utility": ("Po službi", "Per utility"),
    "per_category": ("Po kategoriji", "Per category"),
    "play": ("Pusti", "Play"),
}

STATUS_NAMES: dict[str, tuple[str, str]] = {
    "received": ("primljena", "received"),
    "open": ("potvrđena", "validated"),
    "assigned": ("dodeljena", "assigned"),
    "in_progress": ("u radu", "in progress"),
    "resolved": ("rešena", "resolved"),
    "closed": ("zatvorena", "closed"),
    "waiting": ("na čekanju", "waiting"),
    "forwarded": ("prosleđena", "forwarded"),
    "duplicate": ("duplikat", "duplicate"),
    "discarded": ("odbačena", "discarded"),
}

CHANNEL_ICONS = {"voice": "☎", "sms": "✉︎", "email": "@", "web": "⌨", "call": "↩"}


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "sr"


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = STRINGS.get(key) or STATUS_NAMES.get(key)
        return pair[index] if pair else key

    return t


def status_name(lang: str, status: str) -> str:
    pair = STATUS_NAMES.get(status)
    return pair[1 if lang == "en" else 0] if pair else status
