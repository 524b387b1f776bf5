"""Raw INVITE probes: a scanner learns our configurable product token, never the SIP library's name
or version (headers or SDP); an INVITE without SDP (late offer) is refused at once, no call left."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.voicemail.sip_harness import RecordingInbox, settings_for
from tests.voicemail.test_sip_hostile import PEER, STRANGER, messages, request, running, udp_socket

pytestmark = pytest.mark.timeout(60)


def content_length_matches(message: str) -> bool:
    head, _, body = message.partition("\r\n\r\n")
    declared = re.search(r"^Content-Length: *(\d+)", head, re.M | re.I)
    return declared is not None and int(declared.group(1)) == len(body.encode())


def test_invite_probe_sees_our_server_token_and_no_library_fingerprint(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, user_agent="Gradska-Linija/2")
    with running(settings, RecordingInbox()), udp_socket(PEER) as peer, udp_socket(STRANGER) as stranger:
        peer.sendto(
            request("INVITE", settings.bind_port, src_port=peer.getsockname()[1]), (PEER, settings.bind_port)
        )
        stranger.sendto(
            request("INVITE", settings.bind_port, src=STRANGER, src_port=stranger.getsockname()[1]),
            (PEER, settings.bind_port),
        )
        time.sleep(1.5)  # the call is answered 1 s after the INVITE
        answered = messages(peer, quiet_s=1.0)
        refused = messages(stranger, quiet_s=0.5)
        peer.sendto(
            request("OPTIONS", settings.bind_port, src_port=peer.getsockname()[1]), (PEER, settings.bind_port)
        )
        options = messages(peer, quiet_s=0.5)
    status_lines = [m.split("\r\n", 1)[0] for m in answered + refused]
    assert "SIP/2.0 180 Ringing" in status_lines and "SIP/2.0 200 OK" in status_lines
    assert "SIP/2.0 403 Forbidden" in status_lines
    every = answered + refused + options
    assert not [m for m in every if "pyvoip" in m.lower()]
    ok = next(m for m in answered if m.startswith("SIP/2.0 200 OK"))
    assert re.search(r"^Server: Gradska-Linija/2\r$", ok, re.M)
    assert re.search(r"^s=-\r$", ok, re.M) and re.search(r"^o=- ", ok, re.M)
    assert all(content_length_matches(m) for m in answered)  # the SDP was rewritten, its length too


def test_invite_without_sdp_is_refused_with_488_and_leaves_no_call(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with running(settings, RecordingInbox()) as channel, udp_socket(PEER) as peer:
        peer.sendto(
            request("INVITE", settings.bind_port, src_port=peer.getsockname()[1], sdp=False),
            (PEER, settings.bind_port),
        )
        time.sleep(1.5)  # past the moment a call would be answered
        got = [m.split("\r\n", 1)[0] for m in messages(peer, quiet_s=0.5)]
        active = channel.status().metrics.get("active_calls", 0)
    assert got == ["SIP/2.0 488 Not Acceptable Here"]  # late offer is not supported: refused at once
    assert active == 0
