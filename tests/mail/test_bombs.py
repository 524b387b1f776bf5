"""MIME bombs (deep nesting, huge part counts, header floods) are quarantined before the stdlib parser
sees them, within bounded memory; big but sane mails (a 30 MB photo, 5 MB of HTML) still parse."""

from __future__ import annotations

import base64
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from channels.base import InboundContact
from mail.intake import contact_from_bytes
from mail.mime_guard import LIMITS, MimeLimits, mime_shape_problem

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HANG_GUARD_S = 60
HEAD = (
    b"From: Pera <pera@example.rs>\r\nTo: prijave@sistem48.localhost\r\nSubject: Pukla cev\r\n"
    b"Message-ID: <bomb@example.rs>\r\nMIME-Version: 1.0\r\n"
)


def nested_multipart(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)
    )
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD + opening + b"Content-Type: text/plain\r\n\r\ndeep\r\n" + closing


def many_parts(count: int) -> bytes:
    part = b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return HEAD + b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n' + part * count + b"--p--\r\n"


def header_flood(size: int) -> bytes:
    line = b"X-Junk: " + b"a" * 70 + b"\r\n"
    return HEAD + line * (size // len(line)) + b"Content-Type: text/plain\r\n\r\nbody\r\n"


def many_parameters(count: int) -> bytes:
    params = b"".join(b";\r\n p%d=v%d" % (i, i) for i in range(count))
    return HEAD + b"Content-Type: text/plain; charset=utf-8" + params + b"\r\n\r\nbody\r\n"


def nested_rfc822(depth: int) -> bytes:
    levels = b"".join(
        b"Content-Type: message/rfc822\r\n\r\nFrom: a%d@example.rs\r\nSubject: fwd %d\r\n" % (i, i)
        for i in range(depth)
    )
    return HEAD + levels + b"Content-Type: text/plain\r\n\r\ninner\r\n"


def photo_mail(encoded_size: int) -> bytes:
    data = bytes(range(256)) * (encoded_size * 3 // 4 // 256)
    encoded = base64.encodebytes(b"\xff\xd8\xff" + data).replace(b"\n", b"\r\n")
    return (
        HEAD + b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nPukla cev, slika u prilogu.\r\n--m\r\n"
        b'Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename="cev.jpg"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--m--\r\n"
    )


def html_mail(size: int) -> bytes:
    row = b"<tr><td><p>Pukla <b>cev</b> u ulici</p></td><td><a href='x'>mapa</a></td></tr>\r\n"
    body = b"<html><body><table>" + row * (size // len(row)) + b"</table></body></html>\r\n"
    return HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + body


def parse_measured(raw: bytes) -> tuple[InboundContact, int, float]:
    """(contact, tracemalloc peak in bytes, seconds); fails instead of hanging the suite."""
    result: list[tuple[InboundContact, int, float]] = []

    def run() -> None:
        tracemalloc.start()
        try:
            started = time.perf_counter()
            contact = contact_from_bytes(raw, received_at=NOW, mail_from="pera@example.rs")
            elapsed = time.perf_counter() - started
            result.append((contact, tracemalloc.get_traced_memory()[1], elapsed))
        finally:
            tracemalloc.stop()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert not worker.is_alive(), f"parsing {len(raw)} bytes did not finish within {HANG_GUARD_S} s"
    assert result, "the parser thread died"
    return result[0]


BOMBS: list[tuple[str, Callable[[], bytes], str]] = [
    ("nested_multipart_10000", lambda: nested_multipart(10_000), "too deeply nested"),
    ("parts_100000", lambda: many_parts(100_000), "too many MIME parts"),
    ("header_fields_20MiB", lambda: header_flood(20 << 20), "header sections too large"),
    ("parameters_10000", lambda: many_parameters(10_000), "too many MIME parameters"),
    ("nested_rfc822_1000", lambda: nested_rfc822(1000), "too deeply nested"),
]


@pytest.mark.parametrize(("name", "build", "reason"), BOMBS, ids=[b[0] for b in BOMBS])
def test_mime_bomb_is_quarantined_with_reason_in_bounded_memory(
    name: str, build: Callable[[], bytes], reason: str
) -> None:
    raw = build()
    contact, peak, elapsed = parse_measured(raw)
    print(f"{name}: {len(raw) / 1e6:.1f} MB parsed in {elapsed:.3f} s, peak {peak / 1e6:.1f} MB")
    assert contact.meta["quarantine"].startswith(reason)
    assert contact.raw is raw
    assert contact.meta["suppress_ack"] == "1"
    assert contact.subject == "Pukla cev"  # scraped from the head for the quarantine list
    assert peak < 10 * len(raw)


def test_header_flood_memory_does_not_grow_with_the_flood() -> None:
    raw = header_flood(20 << 20)
    _contact, peak, _elapsed = parse_measured(raw)
    # Only the first header budget is looked at, never the 20 MiB.
    assert peak < 4 * LIMITS.max_header_bytes


def test_large_photo_in_a_normal_mail_is_parsed_not_quarantined() -> None:
    raw = photo_mail(30 << 20)
    contact, peak, elapsed = parse_measured(raw)
    print(f"photo: {len(raw) / 1e6:.1f} MB parsed in {elapsed:.2f} s, peak {peak / 1e6:.1f} MB")
    assert "quarantine" not in contact.meta
    assert contact.body == "Pukla cev, slika u prilogu."
    [photo] = contact.attachments
    assert photo.content_type == "image/jpeg"
    assert len(photo.data) >= (30 << 20) * 3 // 4 - 256
    assert peak < 10 * len(raw)


def test_five_megabytes_of_html_is_parsed_to_text() -> None:
    raw = html_mail(5 << 20)
    contact, peak, elapsed = parse_measured(raw)
    print(f"html: {len(raw) / 1e6:.1f} MB parsed in {elapsed:.2f} s, peak {peak / 1e6:.1f} MB")
    assert "quarantine" not in contact.meta
    assert contact.body.startswith("Pukla cev u ulici")
    assert "<td>" not in contact.body
    assert peak < 10 * len(raw)


def test_mail_at_the_part_limit_is_parsed_and_one_more_part_is_quarantined() -> None:
    limits = MimeLimits()
    assert mime_shape_problem(many_parts(limits.max_parts)) is None
    assert mime_shape_problem(many_parts(limits.max_parts + 1)) == (
        f"too many MIME parts (more than {limits.max_parts})"
    )


def test_mail_at_the_depth_limit_is_parsed_and_one_level_more_is_quarantined() -> None:
    assert mime_shape_problem(nested_multipart(LIMITS.max_depth)) is None
    assert mime_shape_problem(nested_multipart(LIMITS.max_depth + 1)) == (
        f"too deeply nested (more than {LIMITS.max_depth} levels)"
    )
    contact = contact_from_bytes(nested_multipart(LIMITS.max_depth), received_at=NOW)
    assert contact.body == "deep"


def test_delimiter_scan_is_linear_in_lf_only_mail() -> None:
    # "\r--" never occurs in an LF mail; it was once searched afresh for every delimiter line.
    raw = many_parts(LIMITS.max_parts).replace(b"\r\n", b"\n") + b"\n" + b"x" * (20 << 20)
    assert mime_shape_problem(raw) is None


def nested_with(depth: int, param: bytes, kind: bytes = b"alternative") -> bytes:
    """`depth` nested multiparts whose boundary parameter is spelled `param` (with %d for the level)."""
    levels = b"".join(
        b"Content-Type: multipart/" + kind + b"; " + (param % i) + b"\r\n\r\n--b%d\r\n" % i
        for i in range(depth)
    )
    return HEAD + levels + b"Content-Type: text/plain\r\n\r\ndeep\r\n"


@pytest.mark.parametrize(
    "param",
    [b'boundary*0="b%d"', b"boundary*=''b%d", b'boundary=(comment)"b%d"', b'boundary=; boundary="b%d"'],
    ids=["rfc2231_continuation", "rfc2231_extended", "comment", "repeated_parameter"],
)
def test_boundary_spelled_any_way_the_stdlib_reads_is_followed_by_the_prescan(param: bytes) -> None:
    raw = nested_with(300, param)
    contact, _peak, elapsed = parse_measured(raw)
    print(f"{param!r}: {elapsed:.3f} s")
    assert contact.meta["quarantine"] == f"too deeply nested (more than {LIMITS.max_depth} levels)"


def test_digest_parts_without_content_type_count_as_nested_messages() -> None:
    levels = b"".join(
        b'Content-Type: multipart/digest; boundary="d%d"\r\n\r\n--d%d\r\n\r\n' % (i, i) for i in range(300)
    )
    contact, _peak, _elapsed = parse_measured(HEAD + levels + b"\r\ndeep\r\n")
    assert contact.meta["quarantine"] == f"too deeply nested (more than {LIMITS.max_depth} levels)"


def test_nesting_behind_an_undeclared_boundary_is_not_salvaged_into_a_deep_walk() -> None:
    # The root declares no boundary, so the prescan sees one text body; the salvage re-parse must
    # not walk what it finds inside (nested alternatives cost the walk the cube of their depth).
    raw = nested_with(300, b'boundary="b%d"').replace(
        HEAD, HEAD + b"Content-Type: multipart/mixed\r\n\r\n--zz\r\n", 1
    )
    contact, _peak, elapsed = parse_measured(raw)
    print(f"undeclared boundary: {elapsed:.2f} s")
    assert "quarantine" not in contact.meta
    assert contact.body.startswith("--zz")


def test_more_content_type_lines_than_parts_allow_is_quarantined() -> None:
    lines = b"Content-Type: text/plain\r\n" * (2 * LIMITS.max_parts + 2)
    raw = HEAD + b"Content-Type: text/plain\r\n\r\n" + lines
    assert mime_shape_problem(raw) == f"too many Content-Type fields (more than {2 * LIMITS.max_parts + 1})"
