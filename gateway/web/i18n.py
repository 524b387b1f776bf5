"""UI strings in Serbian (Latin, the default; Cyrillic transliterated from it) and English;
`t(lang)` gives the lookup templates use, `event_note` the readable form of a timeline note."""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.text import lat_to_cyr

LANGS = ("sr", "sr-cyrl", "en")
LANG_LABELS = {"sr": "Latinica", "sr-cyrl": "Ћирилица", "en": "English"}

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
    "search_hint": ("broj, telefon, e-pošta, ime, ulica, reči", "reference, phone, e-mail, name, street"),
    "missed_calls": ("Propušteni pozivi za povratni poziv", "Missed calls to call back"),
    "callbacks": ("Povratni pozivi", "Calls to return"),
    "after_hours": ("van radnog vremena", "after hours"),
    "called_back": ("Pozvan nazad", "Called back"),
    "cb_review": ("traženo u pregledu/prijavi", "asked in the review or on the ticket"),
    "cb_missed_call": ("propušten poziv", "missed call"),
    "queue": ("Red", "Queue"),
    "queue_overdue": ("Kasne (rok prošao)", "Overdue"),
    "queue_today": ("Rok danas", "Due today"),
    "queue_waiting": ("Čekaju građanina", "Waiting for the citizen"),
    "queue_callback": ("Za povratni poziv", "To call back"),
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
    "choose": ("— izaberite —", "— choose —"),
    "confirm_discard": ("Da, odbaci ovu prijavu", "Yes, discard this ticket"),
    "confirm_merge": ("Da, spoji sa navedenom prijavom", "Yes, merge into the ticket above"),
    "ask_discard": ("Odbaciti ovu prijavu?", "Discard this ticket?"),
    "ask_merge": ("Spojiti ovu poruku sa navedenom prijavom?", "Merge this message into that ticket?"),
    "undo": ("Poništi", "Undo"),
    "admin_users": ("Korisnici", "Users"),
    "privacy": ("Zahtevi građana", "Data requests"),
    "privacy_intro": (
        "Sve što čuvamo o jednoj osobi, po broju telefona (bilo kog zapisa) ili e-adresi: "
        "izvoz ili brisanje. Svaki pregled se beleži. "
        "Građanin ne dobija poruku osim ako mu je sami pošaljete.",
        "Everything held about one person, by phone number (any spelling) or e-mail address: export or "
        "erase. Every look is logged. The citizen gets no message unless you send one yourself.",
    ),
    "privacy_who": ("Broj telefona ili e-adresa", "Phone number or e-mail address"),
    "privacy_lookup": ("Pronađi", "Look up"),
    "privacy_not_found": (
        "Niko nije poznat po tom broju ili adresi.",
        "Nobody is known by that number or address.",
    ),
    "privacy_mismatch": (
        "Ponovljeni unos se ne slaže: ništa nije obrisano.",
        "The confirmation does not match: nothing was erased.",
    ),
    "privacy_identities": ("Kontakti", "Identities"),
    "privacy_tickets": ("Prijave", "Tickets"),
    "privacy_messages": ("Poruke", "Messages"),
    "privacy_files": ("Datoteke (snimci, fotografije)", "Files (recordings, photos)"),
    "privacy_transcripts": ("Zapisi govorne pošte", "Voicemail transcripts"),
    "privacy_sent": ("Poslato građaninu", "Sent to the citizen"),
    "privacy_calls": ("Pozivi", "Calls"),
    "privacy_export_json": ("Izvoz (JSON)", "Export (JSON)"),
    "privacy_export_html": ("Izvoz (HTML za građanina)", "Export (HTML for the citizen)"),
    "privacy_erase": ("Obriši podatke ove osobe", "Erase this person's data"),
    "privacy_erase_help": (
        "Brišu se kontakti, poruke, snimci, zapisi, fotografije i odgovori; "
        "prijave ostaju bez podataka o osobi. Ne može se poništiti. "
        "Za potvrdu ponovo upišite broj ili adresu.",
        "Identities, messages, recordings, transcripts, photos and replies are erased; the tickets stay "
        "without the person. This cannot be undone. Type the number or address again to confirm.",
    ),
    "privacy_confirm": ("Ponovo upišite broj ili adresu", "Type the number or address again"),
    "privacy_erased": ("Podaci su obrisani", "The data was erased"),
    "audit": ("Evidencija uvida", "Audit log"),
    "audit_intro": (
        "Ko je video čije lične podatke, kada i sa koje stranice ili API-ja.",
        "Who saw which citizen's personal data, when, and from which page or API.",
    ),
    "audit_actor": ("Korisnik", "Staff user"),
    "audit_citizen": ("Građanin (broj, adresa ili #id)", "Citizen (number, address or #id)"),
    "audit_what": ("Stranica / API", "Page / API"),
    "audit_when": ("Vreme", "When"),
    "audit_all": ("svi", "all"),
    "audit_none": ("Nema zapisa.", "No entries."),
    "audit_unknown": ("Građanin nije pronađen.", "No such citizen."),
    "audit_removals": (
        "Poslednja brisanja (broj zapisa, bez sadržaja)",
        "Recent removals (counts, no content)",
    ),
    "audit_action": ("Radnja", "Action"),
    "audit_counts": ("Uklonjeno", "Removed"),
    "page_prev": ("« Prethodna", "« Previous"),
    "page_next": ("Sledeća »", "Next »"),
    "role": ("Uloga", "Role"),
    "role_admin": ("administrator", "administrator"),
    "role_operator": ("operater", "operator"),
    "role_utility": ("služba", "utility"),
    "user_active": ("aktivan", "active"),
    "user_disabled": ("isključen", "disabled"),
    "user_locked": ("zaključan", "locked"),
    "user_enable": ("Uključi", "Enable"),
    "user_disable": ("Isključi", "Disable"),
    "user_unlock": ("Otključaj", "Unlock"),
    "user_reset": ("Nova lozinka", "Reset password"),
    "new_password": ("nova lozinka (10+ znakova)", "new password (10+ characters)"),
    "user_role": ("Promeni ulogu", "Change role"),
    "user_add": ("Dodaj korisnika", "Add user"),
    "user_exists": ("Korisnik sa tim imenom već postoji.", "A user with that name exists."),
    "admin_catalogue": ("Katalog", "Catalogue"),
    "admin_tokens": ("API tokeni", "API tokens"),
    "categories": ("Kategorije", "Categories"),
    "utilities": ("Službe", "Utilities"),
    "code": ("Šifra", "Code"),
    "name": ("Naziv", "Name"),
    "keywords": ("Ključne reči (jedna po redu ili zarezom)", "Keywords (one per line or comma-separated)"),
    "keywords_short": ("Ključne reči", "Keywords"),
    "reopened": ("ponovo otvoreno", "reopened"),
    "reopened_words": ("Građanin javlja da nije rešeno,", "The citizen says it is not fixed,"),
    "open_map": ("Mapa otvorenih prijava", "Map of open reports"),
    "map_not_configured": (
        "Mapa nije podešena: upišite server pločica u [http] map_tiles_url.",
        "No map: set a tile server in [http] map_tiles_url.",
    ),
    "map_none": (
        "Nema otvorenih prijava sa lokacijom za ovaj izbor.",
        "No open reports with a location here.",
    ),
    "map_credit": ("Podloga: © saradnici OpenStreetMap-a", "Map data © OpenStreetMap contributors"),
    "sla_hours": ("Rok (sati)", "Deadline (hours)"),
    "emails_work_orders": ("E-pošta za radne naloge", "E-mail for work orders"),
    "escalation_emails": ("Adrese za eskalaciju (redom)", "Escalation addresses (in order)"),
    "coordinator_escalation": (
        "Koordinator: eskalacija posle službe",
        "Coordinator: escalation after the utility",
    ),
    "enabled": ("aktivna", "active"),
    "disabled": ("isključena", "disabled"),
    "offered_on_forms": ("Nudi se u obrascima", "Offered on forms"),
    "edit": ("Izmeni", "Edit"),
    "delete": ("Obriši", "Delete"),
    "cancel": ("Odustani", "Cancel"),
    "add_category": ("Dodaj kategoriju", "Add category"),
    "add_utility": ("Dodaj službu", "Add utility"),
    "catalogue_saved": (
        "Sačuvano. Važi odmah, bez ponovnog pokretanja.",
        "Saved. Applies at once, no restart.",
    ),
    "catalogue_bad_code": (
        "Šifra: 2–40 malih slova, cifara ili _ (npr. javna_rasveta).",
        "Code: 2–40 lower-case letters, digits or _ (e.g. street_lights).",
    ),
    "catalogue_needs_name": ("Upišite naziv.", "Enter a name."),
    "catalogue_needs_email": (
        "Upišite bar jednu adresu za radne naloge.",
        "Enter at least one work-order address.",
    ),
    "catalogue_bad_email": ("Neispravna adresa e-pošte.", "Not a valid e-mail address."),
    "catalogue_code_taken": ("Ta šifra već postoji.", "That code exists."),
    "catalogue_unknown": ("Nema takve stavke.", "No such entry."),
    "catalogue_unknown_utility": ("Izaberite službu.", "Choose a utility."),
    "catalogue_bad_hours": (
        "Rok: ceo broj sati veći od nule.",
        "Deadline: a whole number of hours above zero.",
    ),
    "catalogue_in_use": (
        "Kategorija ima prijave: ne može se obrisati, samo isključiti.",
        "The category has tickets: it cannot be deleted, only disabled.",
    ),
    "ask_delete_category": (
        "Obrisati ovu kategoriju? Ovo se ne može poništiti.",
        "Delete this category? This cannot be undone.",
    ),
    "confirm_delete": ("Da, obriši", "Yes, delete"),
    "token_name": ("Naziv (za koga je)", "Name (who it is for)"),
    "created": ("Napravljen", "Created"),
    "last_used": ("Poslednja upotreba", "Last used"),
    "never": ("nikad", "never"),
    "revoked": ("opozvan", "revoked"),
    "revoke": ("Opozovi", "Revoke"),
    "ask_revoke": (
        "Opozvati ovaj token? Program koji ga koristi odmah gubi pristup.",
        "Revoke this token? The program using it loses access at once.",
    ),
    "confirm_revoke": ("Da, opozovi", "Yes, revoke"),
    "token_create": ("Napravi token", "Create token"),
    "token_shown_once": (
        "Novi token (prikazuje se samo sada; kopirajte ga):",
        "New token (shown only now; copy it):",
    ),
    "token_needs_name": ("Upišite naziv tokena.", "Enter a name for the token."),
    "token_needs_role": ("Izaberite ulogu.", "Choose a role."),
    "token_utility": (
        "Služba se bira samo za ulogu „služba“, i tada je obavezna.",
        "A utility goes with the role “utility” only, and that role needs one.",
    ),
    "role_app": ("aplikacija (Open311)", "app (Open311)"),
    "role_manager": ("rukovodilac (izveštaji)", "manager (reports)"),
    "admin_self": (
        "Sopstveni nalog ne možete isključiti niti mu promeniti ulogu.",
        "Not on your own account.",
    ),
    "password must have at least 10 characters": (
        "Lozinka mora imati bar 10 znakova.",
        "At least 10 characters.",
    ),
    "photo_kept": ("Izabrane fotografije su sačuvane, ne birajte ih ponovo", "The chosen photos are kept"),
    "before_photo": ("Fotografija pre intervencije", "Photo before the intervention"),
    "start_work": ("Počinjemo rad", "Start work"),
    "not_ours": ("Nije naše", "Not ours"),
    "not_ours_reason": ("Zašto nije vaše (kome pripada)", "Why it is not yours (whose it is)"),
    "not_ours_needs_reason": ("Navedite zašto nalog nije vaš.", "Say why the order is not yours."),
    "not_ours_only_assigned": (
        "„Nije naše“ je moguće samo pre početka rada.",
        "“Not ours” is possible only before work starts.",
    ),
    "merged_into": ("Duplikat prijave", "Duplicate of"),
    "merged_here": ("Spojene prijave", "Merged into this one"),
    "undo_until": ("Može se poništiti do", "Can be undone until"),
    "correct": ("Ispravi podatke", "Correct the details"),
    "close": ("Zatvori", "Close"),
    "wait": ("Stavi na čekanje", "Put on hold"),
    "wait_reason": ("Razlog čekanja", "Reason for waiting"),
    "resolve": ("Označi kao rešeno", "Mark resolved"),
    "resolution": ("Kako je rešeno", "How it was resolved"),
    "reopen": ("Vrati u rad", "Back to work"),
    "back_to_received": ("Vrati među nepotvrđene", "Back to unvalidated"),
    "forward_where": ("Kome je prosleđeno", "Where it went"),
    "merge_into": ("Broj prijave koja ostaje", "Reference of the ticket that stays"),
    "discard_reason": ("Razlog odbacivanja", "Why it is discarded"),
    "confirm": ("Potvrdi radnju", "Confirm the action"),
    "sms_prefix_note": ("uključen i uvod koji dodaje sistem", "includes the prefix the gateway adds"),
    "required_note": ("* obavezno", "* required"),
    "ch_voice": ("govorna pošta", "voicemail"),
    "ch_sms": ("SMS", "SMS"),
    "ch_email": ("e-pošta", "e-mail"),
    "ch_web": ("veb", "web"),
    "ch_phone": ("telefon", "phone"),
    "ch_walk_in": ("lično", "in person"),
    "ch_call": ("poziv", "call"),
    "new_report": ("Nova prijava", "New report"),
    "new_hint": (
        "Tastatura: Tab prelazi na sledeće polje, strelice biraju, Ctrl+Enter čuva.",
        "Keyboard: Tab moves to the next field, arrows choose, Ctrl+Enter saves.",
    ),
    "new_kind": ("Kako se javio", "How the citizen came"),
    "new_phone": ("Broj telefona pozivaoca", "Caller's phone number"),
    "new_email": ("E-pošta", "E-mail"),
    "new_name": ("Ime i prezime", "Name"),
    "new_address": ("Adresa / lokacija", "Address / location"),
    "new_reply_via": ("Odgovore slati", "Send replies by"),
    "via_sms": ("SMS-om", "SMS"),
    "via_email": ("e-poštom", "e-mail"),
    "via_none": ("ne slati (građanin ne želi)", "do not send (the citizen declines)"),
    "new_save": ("Sačuvaj prijavu", "Save the report"),
    "new_caller_hint": (
        "Upišite broj: podaci i ranije prijave pojaviće se ovde.",
        "Type the number: details and earlier tickets appear here.",
    ),
    "new_caller_unknown": ("Nov pozivalac, nema ranijih prijava.", "New caller, no earlier tickets."),
    "new_choose_reply": ("Izaberite kako slati odgovore.", "Choose how replies are sent."),
    "new_sms_needs_phone": (
        "Za odgovor SMS-om upišite broj telefona.",
        "A reply by SMS needs a phone number.",
    ),
    "new_email_needs_address": ("Za odgovor e-poštom upišite adresu.", "A reply by e-mail needs an address."),
    "new_photo_type": (
        "Fotografija mora biti JPEG, PNG ili WebP slika do 10 MB; izabrani fajl to nije.",
        "A photo must be a JPEG, PNG or WebP image of 10 MB at most; the chosen file is not.",
    ),
    "new_invalid": (
        "Prijava nije sačuvana: proverite podatke.",
        "The report was not saved: check the fields.",
    ),
    "state_queued": ("čeka slanje", "queued"),
    "state_sending": ("šalje se", "sending"),
    "state_sent": ("poslato", "sent"),
    "state_failed": ("nije poslato", "failed"),
    "state_cancelled": ("otkazano", "cancelled"),
    # messages of the ticket service shown to staff (TicketError texts)
    "validation needs a known category": ("Izaberite kategoriju.", "Choose a category."),
    "validation needs the text of the report": (
        "Upišite tekst prijave (šta je problem) pre potvrde.",
        "Type the text of the report before validating.",
    ),
    "discarding needs a reason": ("Navedite razlog odbacivanja.", "Give a reason for discarding."),
    "waiting needs a reason": ("Navedite razlog čekanja.", "Give a reason for waiting."),
    "photo: JPEG/PNG/WebP up to 10 MB": (
        "Fotografija: JPEG/PNG/WebP do 10 MB.",
        "Photo: JPEG/PNG/WebP up to 10 MB.",
    ),
    "resolving needs a resolution note": ("Opišite kako je rešeno.", "Describe how it was resolved."),
    "forwarding needs where it went": ("Navedite kome je prosleđeno.", "Say where it was forwarded."),
    "assignment needs a known utility": ("Izaberite službu.", "Choose a utility."),
    "a duplicate needs the reference of the original ticket": (
        "Upišite broj prijave koja ostaje.",
        "Type the reference of the ticket that stays.",
    ),
    "a ticket cannot duplicate itself": (
        "Prijava ne može biti duplikat same sebe.",
        "A ticket cannot duplicate itself.",
    ),
    "needs_confirmation": ("Potvrdite radnju označavanjem polja.", "Tick the box to confirm."),
    "empty reply": ("Odgovor je prazan.", "The reply is empty."),
}

# Fixed notes the core writes into the timeline (kept in English in the database).
EVENT_NOTES: dict[str, tuple[str, str]] = {
    "registered": ("registrovana", "registered"),
    "citizen wrote again": ("građanin se ponovo javio", "the citizen wrote again"),
    "call back requested": ("traži se povratni poziv", "call back requested"),
    "called back": ("pozvan nazad", "called back"),
    "description edited": ("tekst ispravljen", "text corrected"),
    "the citizen reports it is not fixed": (
        "građanin javlja da nije rešeno",
        "the citizen reports it is not fixed",
    ),
}
EVENT_KINDS: dict[str, tuple[str, str]] = {
    "status": ("status", "status"),
    "edit": ("ispravka", "correction"),
    "merge": ("spajanje", "merge"),
    "undo": ("poništeno", "undone"),
    "note": ("napomena", "note"),
    "reply": ("odgovor", "reply"),
    "message": ("poruka", "message"),
    "callback": ("povratni poziv", "call back"),
    "escalation": ("eskalacija", "escalation"),
}
_NOTE_PARTS = {
    "called back": ("pozvan nazad", "called back"),
    "description edited": ("tekst ispravljen", "text corrected"),
    "category": ("kategorija", "category"),
    "location": ("lokacija", "location"),
    "merged as a duplicate": ("spojena kao duplikat", "merged as a duplicate"),
    "merge undone": ("spajanje poništeno", "merge undone"),
    "resolution sent": ("poslato rešenje prijave", "resolution sent"),
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

CHANNEL_ICONS = {
    "voice": "☎",
    "sms": "✉︎",
    "email": "@",
    "web": "⌨",
    "call": "↩",
    "phone": "☏",
    "walk_in": "⌂",
}


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else "sr"


def _pick(lang: str, pair: tuple[str, str]) -> str:
    if lang == "en":
        return pair[1]
    return lat_to_cyr(pair[0]) if lang == "sr-cyrl" else pair[0]


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        pair = STRINGS.get(key) or STATUS_NAMES.get(key)
        return _pick(lang, pair) if pair else key

    return t


def status_name(lang: str, status: str) -> str:
    pair = STATUS_NAMES.get(status)
    return _pick(lang, pair) if pair else status


def channel_name(lang: str, channel: str) -> str:
    pair = STRINGS.get(f"ch_{channel}")
    return _pick(lang, pair) if pair else channel


def event_kind(lang: str, kind: str) -> str:
    pair = EVENT_KINDS.get(kind)
    return _pick(lang, pair) if pair else kind


def event_note(lang: str, note: str | None, names: Callable[[str], str]) -> str:
    """A timeline note in the reader's language, with category codes replaced by their names."""
    if not note:
        return ""
    pair = EVENT_NOTES.get(note) or STRINGS.get(note)
    if pair:
        return _pick(lang, pair)
    out = re.sub(
        r"category: (\S+) → (\S+)", lambda m: f"category: {names(m.group(1))} → {names(m.group(2))}", note
    )
    for english, words in _NOTE_PARTS.items():
        out = out.replace(english, _pick(lang, words))
    return out
