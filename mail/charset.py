"""Best-effort decoding of mail bytes whose charset label is missing, wrong or unknown: alias table,
declared label, strict UTF-8, mostly-valid UTF-8, then a detection constrained to the charsets
Serbian (and neighbouring) senders use."""

from __future__ import annotations

import base64
import binascii
import codecs
import itertools
import quopri
import re
import unicodedata

# Labels seen in the wild that Python does not know, or that name a subset of what senders use.
_ALIASES = {
    "gb2312": "gb18030",  # clients label GBK text gb2312 (osTicket maps it to GBK too)
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ce": "mac-latin2",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "yu": "iso-8859-2",
    "iso": "latin-1",
    "default": "latin-1",
    "x-user-defined": "latin-1",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-2022-jp": "iso2022_jp_ext",  # CP50220 extensions such as ① (kix Test12)
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "windows-874": "cp874",
    "tis-620": "cp874",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_UNKNOWN = {"unknown-8bit", "8bit", "ansi", "x-unknown", "unknown", "binary"}

# Ordered: a tie is won by the earlier entry, so the local code pages come first.
FALLBACK_CHAIN = ("cp1250", "cp1251", "iso-8859-2", "koi8-r", "iso-8859-5", "cp1252")
_WINDOWS_SUPERSET = {"iso8859-1": "cp1252", "iso8859-2": "cp1250", "iso8859-15": "cp1252"}
_SINGLE_BYTE = {codecs.lookup(c).name for c in (*FALLBACK_CHAIN, "latin-1", "iso-8859-15")}

_SERBIAN_LATIN = set("čćžšđČĆŽŠĐ")
_WORD = re.compile(r"[^\W\d_]{2,}")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None when it names nothing usable."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name.startswith("windows") and name[7:].lstrip("-_").isdigit():
        name = "cp" + name[7:].lstrip("-_")
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a label with NUL or surrogate-escaped bytes
        return None


def html_meta_charset(data: bytes) -> str | None:
    """The charset an HTML document declares for itself in a <meta> tag."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def plausibility(text: str) -> float:
    """Higher for text that looks like a natural language; used to rank candidate decodings."""
    score = 0.0
    for ch in text:
        if ch < "\x80":
            continue
        if ch in _SERBIAN_LATIN or _is_cyrillic(ch):
            score += 1.0
            continue
        category = unicodedata.category(ch)
        if category.startswith("L"):
            score += 0.5
        elif category in ("Cc", "Co", "Cn", "So", "Sk") or "\x80" <= ch <= "\x9f":
            score -= 2.0
    for word in _WORD.findall(text):
        has_cyrillic = any(_is_cyrillic(c) for c in word)
        has_ascii = any(c < "\x80" for c in word)
        if has_cyrillic and has_ascii:
            score -= 3.0  # "Иaиak": cp1250 Latin read through a Cyrillic code page
        elif not has_cyrillic and not has_ascii and len(word) >= 3:
            score -= 2.0  # "Ďđčâĺň": Cyrillic read through a Latin code page
        if any(a.islower() and b.isupper() for a, b in itertools.pairwise(word)):
            score -= 1.5  # "рТЙЧХФ": KOI8-R read as cp1251 flips the case
    return score


def _looks_misdecoded(text: str) -> bool:
    """Positive signs a label was wrong: Cyrillic letters inside Latin words, or Latin words
    made only of accented letters (Cyrillic bytes read through a Latin code page)."""
    suspicious = 0
    for word in _WORD.findall(text):
        has_cyrillic = any(_is_cyrillic(c) for c in word)
        has_ascii = any(c < "\x80" for c in word)
        if has_cyrillic and has_ascii:
            suspicious += 2  # real words never mix scripts
        elif not has_cyrillic and not has_ascii and len(word) >= 4:
            suspicious += 1
    return suspicious >= 2


def _stray_byte_as_cp1250(error: UnicodeError) -> tuple[str, int]:
    # A lone 8-bit byte in otherwise valid UTF-8 is nearly always a local code page character
    # (kix Test17: a Latin-1 "Á" in a UTF-8 signature); show it as that, not as U+FFFD.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("cp1250", "replace"), error.end


codecs.register_error("sistem48-cp1250-bytes", _stray_byte_as_cp1250)


def _utf8_mostly_valid(data: bytes) -> bool:
    valid = data.decode("utf-8", errors="ignore")
    bad = data.decode("utf-8", errors="replace").count("\ufffd") - valid.count("\ufffd")
    valid_non_ascii = sum(1 for ch in valid if ch > "\x7f")
    return bad > 0 and valid_non_ascii >= 2 * bad


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode `data` labelled `declared`; returns (text, the codec actually used). Never raises."""
    codec = normalize_charset(declared)
    if data.isascii():
        if codec is not None and codec != "ascii":
            try:
                return data.decode(codec), codec
            except (UnicodeDecodeError, LookupError):
                if codec.startswith("iso2022_jp"):
                    converted = _cp50220(data)
                    if converted is not None:
                        return converted, "cp50220"
        return data.decode("ascii"), "ascii"
    if codec in _WINDOWS_SUPERSET and re.search(rb"[\x80-\x9f]", data):
        # C1 controls never occur in real ISO-8859 text: the sender used the Windows code page
        # (Outlook labels windows-1250 "iso-8859-2"; WHATWG treats Latin-1 as windows-1252).
        codec = _WINDOWS_SUPERSET[codec]
    try:
        # Non-UTF-8 8-bit text almost never validates as UTF-8, so validity beats the label
        # (UTF-8 labelled GB2312 or us-ascii in the corpus).
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if codec is not None and codec not in ("utf-8", "ascii"):
        text: str | None
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            text = _cp50220(data) if codec.startswith("iso2022_jp") else None
        if text is not None:
            if codec not in _SINGLE_BYTE:
                return text, codec  # a multi-byte or unusual label that decodes cleanly: trust it
            if _looks_misdecoded(text):
                best, best_codec = _best_single_byte(data)
                if plausibility(best) > plausibility(text) + 2.0:
                    return best, best_codec
            return text, codec
    if _utf8_mostly_valid(data):
        return data.decode("utf-8", errors="sistem48-cp1250-bytes"), "utf-8"
    if codec == "utf-8":
        return _declared_utf8_or_local(data)
    if codec is not None and codec not in ("utf-8", "ascii"):
        return data.decode(codec, errors="replace"), codec
    return _best_single_byte(data)


def _cp50220(data: bytes) -> str | None:
    """ISO-2022-JP with Microsoft's CP50220 extensions (NEC row 13, e.g. ①), which Python lacks.

    Each JIS X 0208 pair is moved to Shift_JIS and decoded with cp932, which has the extensions.
    """
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        if data[i] == 0x1B:
            escape = data[i + 1 : i + 3]
            mode = {b"$B": "jis", b"$@": "jis", b"(I": "kana"}.get(escape, "ascii")
            i += 3
            continue
        if mode == "jis" and i + 1 < len(data):
            c1, c2 = data[i], data[i + 1]
            s1 = ((c1 + 1) >> 1) + (0x70 if c1 <= 0x5E else 0xB0)
            s2 = c2 + (0x1F if c1 & 1 else 0x7E)
            if c1 & 1 and s2 >= 0x7F:
                s2 += 1
            out += bytes((s1 & 0xFF, s2 & 0xFF))
            i += 2
            continue
        out.append(data[i] + 0x80 if mode == "kana" else data[i])
        i += 1
    try:
        return bytes(out).decode("cp932")
    except UnicodeDecodeError:
        return None


def _best_single_byte(data: bytes) -> tuple[str, str]:
    best_text, best_codec, best_score = "", "latin-1", float("-inf")
    for candidate in FALLBACK_CHAIN:
        text = data.decode(candidate, errors="replace")
        score = plausibility(text) - 5.0 * text.count("\ufffd")
        if score > best_score:
            best_text, best_codec, best_score = text, candidate, score
    if best_score == float("-inf"):
        return data.decode("latin-1"), "latin-1"
    return best_text, best_codec


# The code pages a Serbian sender's mail comes from when it is not UTF-8, likeliest first.
SERBIAN_CHAIN = ("cp1250", "iso-8859-2", "cp1251", "koi8-r")
_SERBIAN_CYRILLIC = set("абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ")
_WORD_PUNCTUATION = "\"'.,;:!?()[]{}<>«»„“”‘’-–—…/"


def _token_verdict(token: str) -> float:
    """1 for a word a Serbian writer could have typed, -0.5 for a lone lost character, else -1."""
    core = token.strip(_WORD_PUNCTUATION)
    if not core:
        return 0.0
    if set(core) == {"\ufffd"}:
        return -0.5
    if all(ch < "\x80" or ch in _SERBIAN_LATIN for ch in core):
        return 1.0
    if all(ch in _SERBIAN_CYRILLIC or (ch < "\x80" and not ch.isalpha()) for ch in core):
        return 1.0
    return -1.0


def serbian_score(text: str) -> float:
    """Serbian-looking words minus mojibake words, over the words that are not plain ASCII.

    A decoding that breaks one character leaves its neighbours intact; a wrong code page turns
    every accented word into mixed-script or foreign-letter noise, so whole words are judged.
    """
    verdicts = [_token_verdict(t) for t in text.split() if not t.isascii()]
    return sum(verdicts) / len(verdicts) if verdicts else 0.0


def _declared_utf8_or_local(data: bytes) -> tuple[str, str]:
    # The label says UTF-8 but the bytes break it: either a gateway cut a few sequences (keep the
    # UTF-8 text and show the loss as U+FFFD) or the sender's client mislabelled a local code page.
    best_text, best_codec = data.decode("utf-8", errors="replace"), "utf-8"
    best_score = serbian_score(best_text)
    for candidate in SERBIAN_CHAIN:
        text = data.decode(candidate, errors="replace")
        score = serbian_score(text)
        if score > best_score:  # strictly: a tie keeps the declared label, then the earlier page
            best_text, best_codec, best_score = text, candidate, score
    return best_text, best_codec


_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([QqBb])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]")


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "Bb":
        padded = payload + "=" * (-len(payload) % 4)
        try:
            return base64.b64decode(padded)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", "replace")
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=False)


def decode_header_text(raw: str) -> str:
    """Decode an RFC 2047 header value, including raw 8-bit bytes carried as surrogate escapes.

    Adjacent encoded-words in the same charset are joined before decoding, because real clients
    split a multi-byte character across two words (forbidden by RFC 2047, seen in kix Test21).
    """
    text = _FOLD.sub(" ", raw).replace("\r", "").replace("\n", "")
    out: list[str] = []
    pending = b""
    pending_charset: str | None = None
    position = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        joins = after_word and not between.strip()
        if not (joins and charset == pending_charset):
            if pending_charset is not None:
                out.append(decode_bytes(pending, pending_charset)[0])
            pending = b""
            if not joins:
                out.append(_decode_plain(between))
        pending += _word_bytes(match.group(2), match.group(3))
        pending_charset = charset
        position = match.end()
        after_word = True
    if pending_charset is not None:
        out.append(decode_bytes(pending, pending_charset)[0])
    out.append(_decode_plain(text[position:]))
    return "".join(out)


def _decode_plain(fragment: str) -> str:
    if fragment.isascii():
        return fragment
    try:
        data = fragment.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return fragment  # already real text (a policy-decoded value)
    return decode_bytes(data)[0]
