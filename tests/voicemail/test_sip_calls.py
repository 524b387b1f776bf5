"""Real calls placed with sipp against a running VoicemailChannel: recordings, greetings, DTMF,
CANCEL, refusals, timeouts and quarantine."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import wave
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from channels.base import CallOutcome, ChannelKind, ChannelState
from tests.voicemail.sip_harness import (
    FIXED_NOW,
    RecordingInbox,
    RtpSink,
    Speech,
    call_ids_in,
    dtmf,
    fixed_clock,
    free_udp_ports,
    make_speech,
    make_tone_wav,
    pcm_from_wav,
    rtp_packet,
    run_sipp,
    settings_for,
    snr_db,
)
from voicemail.audio import beep, load_sound
from voicemail.channel import VoicemailChannel
from voicemail.settings import HoursKind

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return make_speech(tmp_path_factory.mktemp("speech"))


def after_hours(_now: object) -> HoursKind:
    return HoursKind.AFTER_HOURS


def wav_pcm(data: bytes) -> tuple[bytes, tuple[int, int, int]]:
    with wave.open(io.BytesIO(data)) as w:
        return w.readframes(w.getnframes()), (w.getnchannels(), w.getsampwidth(), w.getframerate())


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_recording_is_bit_exact_and_greeting_is_heard_in_the_callers_codec(
    tmp_path: Path, speech: Speech, codec: str
) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    sink = RtpSink()
    result_call_ids: set[str] = set()
    metrics: dict[str, float] = {}

    async def scenario() -> None:
        await channel.start(inbox)
        try:
            result = await run_sipp(
                "uac_talk_bye.xml",
                tmp_path,
                target_port=settings.bind_port,
                codec=codec,
                speech=speech,
                rx_port=sink.port,
            )
            assert result.ok, result.output
            result_call_ids.update(call_ids_in(result.messages))
            await inbox.wait_calls(1)
            metrics.update(channel.status().metrics)
        finally:
            await channel.stop()
            sink.close()

    asyncio.run(scenario())
    assert [c.outcome for c in inbox.calls] == [CallOutcome.VOICEMAIL]
    (contact,) = inbox.contacts
    pcm, fmt = wav_pcm(contact.attachments[0].data)
    assert fmt == (1, 2, 8000)
    assert pcm == speech.pcm(codec)  # bit-exact: every sample the caller sent, nothing else
    assert contact.channel == ChannelKind.VOICE
    assert contact.sender == "0641234567"  # the From user part as on the wire; the core normalises
    assert contact.received_at == FIXED_NOW
    assert contact.external_id in result_call_ids
    assert contact.attachments[0].filename == f"voicemail-{contact.external_id}.wav"
    assert contact.meta["codec"] == codec
    assert contact.meta["ended_by"] == "bye"
    assert contact.meta["after_hours"] == "1"
    assert contact.meta["hours"] == "after_hours"
    assert contact.meta["called"] == "48"
    assert float(contact.meta["duration_s"]) == pytest.approx(len(speech.pcm(codec)) / 16000)
    greeting = pcm_from_wav(settings.greeting_after_hours.read_bytes())  # type: ignore[union-attr]
    heard = sink.heard(codec)
    assert snr_db(greeting, heard) > 30  # stock pyVoIP 1.6.8 gives about -7 dB for PCMA
    assert (metrics["voicemails"], metrics["calls"], metrics["active_calls"]) == (1, 1, 0)
    assert 0 < metrics["last_call_send_jitter_ms"] < 20  # 20 ms frames on a monotonic schedule


def run_calls(
    channel: VoicemailChannel, inbox: RecordingInbox, *calls: Awaitable[Any], expect: int = 1
) -> list[Any]:
    """Start the channel, run the sipp calls concurrently, wait for `expect` call-log entries."""

    async def scenario() -> list[Any]:
        await channel.start(inbox)
        try:
            results = await asyncio.gather(*calls)
            await inbox.wait_calls(expect)
            return list(results)
        finally:
            await channel.stop()

    return asyncio.run(scenario())


async def later(delay_s: float, call: Awaitable[T]) -> T:
    await asyncio.sleep(delay_s)
    return await call


def test_pound_key_ends_the_message_after_a_key_skips_the_greeting(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path, dtmf_menu=True)
    inbox = RecordingInbox()
    asked: list[str] = []

    async def lookup(reference: str) -> str | None:
        asked.append(reference)
        return None

    channel = VoicemailChannel(settings, hours=after_hours, status_lookup=lookup, clock=fixed_clock)
    call = run_sipp(
        "uac_talk_pound.xml",
        tmp_path,
        target_port=settings.bind_port,
        speech=speech,
        extra={"pre_digits": dtmf("1") + '\n  <pause milliseconds="900"/>'},
    )
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output  # the gateway sent BYE after '#'
    (contact,) = inbox.contacts
    assert contact.meta["ended_by"] == "dtmf"
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")
    assert inbox.calls[0].outcome == CallOutcome.VOICEMAIL
    assert asked == []


def test_caller_who_vanishes_without_bye_is_hung_up_on_rtp_timeout(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path, rtp_timeout_s=2.0)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_talk_vanish.xml", tmp_path, target_port=settings.bind_port, speech=speech)
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output  # the gateway's BYE arrived
    (contact,) = inbox.contacts
    assert contact.meta["ended_by"] == "rtp_timeout"
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")


def test_cancel_while_ringing_gets_487_and_the_call_is_never_answered(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_cancel.xml", tmp_path, target_port=settings.bind_port)
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output  # 200 for CANCEL, 487, and no 200 OK for the INVITE
    assert "SIP/2.0 487 Request Terminated" in result.messages
    assert "application/sdp" not in result.messages.split("CANCEL", 1)[1]
    assert inbox.contacts == []
    (record,) = inbox.calls
    assert record.outcome == CallOutcome.MISSED
    assert record.detail == "caller gave up while ringing"


def test_junk_datagrams_on_the_rtp_port_do_not_truncate_the_recording(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech)
    # 0/1/3-byte datagrams and RFC 4733 events 16 / empty killed stock pyVoIP's receiver thread.
    junk = [
        b"",
        b"\x80",
        b"\x80\x00\x00",
        rtp_packet(101, bytes([16, 0x0A, 0, 160]), marker=True),
        rtp_packet(101, b"", marker=True),
    ]

    async def inject() -> None:
        await asyncio.sleep(3.5)  # 1 s ringing + greeting + about 1 s into the caller's speech
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for port in range(settings.rtp_port_low, settings.rtp_port_high + 1):
                for datagram in junk:
                    sock.sendto(datagram, ("127.0.0.1", port))

    result, _ = run_calls(channel, inbox, call, inject())
    assert result.ok, result.output
    (contact,) = inbox.contacts
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")


def test_invite_from_a_source_that_is_not_a_trunk_peer_is_refused_with_403(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, trunk_peers=["127.0.0.2", "127.0.0.1:1"])
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_refused.xml", tmp_path, target_port=settings.bind_port, extra={"code": 403})
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output
    assert "180 Ringing" not in result.messages
    (record,) = inbox.calls
    assert (record.outcome, record.detail) == (CallOutcome.REFUSED, "source not allowed")


def test_in_hours_call_is_refused_busy_when_policy_says_busy(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, in_hours="busy")
    inbox = RecordingInbox()
    seen: list[object] = []

    def business(now: object) -> HoursKind:
        seen.append(now)
        return HoursKind.BUSINESS

    channel = VoicemailChannel(settings, hours=business, clock=fixed_clock)
    call = run_sipp("uac_refused.xml", tmp_path, target_port=settings.bind_port, extra={"code": 486})
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output
    assert seen and all(now == FIXED_NOW for now in seen)
    (record,) = inbox.calls
    assert (record.outcome, record.after_hours) == (CallOutcome.REFUSED, False)
    assert record.detail == "in hours"
    assert record.caller == "0641234567"


def test_in_hours_call_is_recorded_when_policy_says_record(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path, in_hours="record")
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=lambda _now: HoursKind.BUSINESS, clock=fixed_clock)
    call = run_sipp(
        "uac_talk_bye.xml",
        tmp_path,
        target_port=settings.bind_port,
        speech=speech,
        caller="hotline-test",
    )
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output
    (contact,) = inbox.contacts
    assert (contact.meta["after_hours"], contact.meta["hours"]) == ("0", "business")
    assert contact.sender == "hotline-test"  # not a phone number: the raw user part


def test_calls_beyond_max_calls_get_busy(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path, max_calls=1)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    first = run_sipp("uac_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech)
    second = later(
        0.5,
        run_sipp("uac_refused.xml", tmp_path, target_port=settings.bind_port, extra={"code": 486}),
    )
    answered, busy = run_calls(channel, inbox, first, second, expect=2)
    assert answered.ok, answered.output
    assert busy.ok, busy.output
    outcomes = sorted(c.outcome for c in inbox.calls)
    assert outcomes == sorted([CallOutcome.VOICEMAIL, CallOutcome.BUSY])
    assert channel.status().metrics["busy"] == 1


def test_failed_ingest_is_quarantined_then_reingested_at_next_start(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox(fail_ingest=True)
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech)
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output
    assert inbox.contacts == []
    assert inbox.calls[0].outcome == CallOutcome.VOICEMAIL
    assert inbox.calls[0].detail == "quarantined: ingest failed"
    quarantine = settings.state_dir / "quarantine"
    (sidecar,) = quarantine.glob("*.json")
    (wav,) = quarantine.glob("*.wav")
    kept = wav.read_bytes()
    assert wav_pcm(kept)[0] == speech.pcm("PCMU")
    fields = json.loads(sidecar.read_text())
    assert fields["sender"] == "0641234567"
    assert fields["received_at"] == FIXED_NOW.isoformat()

    inbox.fail_ingest = False
    again = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)

    async def restart() -> None:
        await again.start(inbox)
        try:
            for _ in range(100):
                if inbox.contacts:
                    break
                await asyncio.sleep(0.05)
        finally:
            await again.stop()

    asyncio.run(restart())
    (contact,) = inbox.contacts
    assert contact.external_id == fields["external_id"]
    assert contact.attachments[0].data == kept
    assert contact.received_at == FIXED_NOW
    assert contact.meta["ended_by"] == "bye"
    assert list(quarantine.iterdir()) == []


def test_status_menu_reads_back_the_status_of_a_keyed_reference(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path, dtmf_menu=True)
    inbox = RecordingInbox()
    asked: list[str] = []

    async def lookup(reference: str) -> str | None:
        asked.append(reference)
        return "in_progress"

    channel = VoicemailChannel(settings, hours=after_hours, status_lookup=lookup, clock=fixed_clock)
    sink = RtpSink()
    call = run_sipp(
        "uac_status.xml",
        tmp_path,
        target_port=settings.bind_port,
        rx_port=sink.port,
        extra={"reference_digits": dtmf("4") + "\n  " + dtmf("2")},
    )
    try:
        (result,) = run_calls(channel, inbox, call)
    finally:
        sink.close()
    assert result.ok, result.output  # the gateway hung up after reading the status
    assert asked == ["42"]
    assert inbox.contacts == []
    (record,) = inbox.calls
    assert record.outcome == CallOutcome.STATUS_LOOKUP
    assert snr_db(load_sound("status_in_progress"), sink.heard("PCMU")) > 25


def test_message_without_speech_is_a_missed_call_not_a_voicemail(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    judged: list[int] = []

    def has_speech(pcm: bytes, rate: int) -> bool:
        judged.append(len(pcm) // 2 // (rate // 1000))
        return False

    channel = VoicemailChannel(settings, hours=after_hours, has_speech=has_speech, clock=fixed_clock)
    call = run_sipp("uac_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech)
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output
    assert judged == [len(speech.pcm("PCMU")) // 16]  # milliseconds of PCM16 it was shown
    assert inbox.contacts == []
    assert (inbox.calls[0].outcome, inbox.calls[0].detail) == (
        CallOutcome.MISSED,
        "no speech in message",
    )
    assert channel.status().state == ChannelState.STOPPED


def test_offer_without_g711_is_refused_with_488(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp(
        "uac_refused.xml",
        tmp_path,
        target_port=settings.bind_port,
        extra={"code": 488, "offer": "18 101", "rtpmaps": "a=rtpmap:18 G729/8000"},
    )
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output
    (record,) = inbox.calls
    assert (record.outcome, record.detail) == (CallOutcome.REFUSED, "no common codec")


def test_holiday_greeting_is_played_on_holidays_and_mailbox_full_stops_recording(
    tmp_path: Path, speech: Speech
) -> None:
    holiday_wav = tmp_path / "holiday.wav"
    full_wav = tmp_path / "full.wav"
    holiday = make_tone_wav(holiday_wav, 0.6, 880, rate=22050)
    full = make_tone_wav(full_wav, 0.6, 440, rate=8000)
    settings = settings_for(
        tmp_path,
        greeting_holiday=holiday_wav,
        greeting_mailbox_full=full_wav,
        max_recordings_per_day=1,
    )
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=lambda _n: HoursKind.HOLIDAY, clock=fixed_clock)
    first_sink, second_sink = RtpSink(), RtpSink()
    first = run_sipp(
        "uac_talk_bye.xml",
        tmp_path,
        target_port=settings.bind_port,
        speech=speech,
        rx_port=first_sink.port,
    )
    second = run_sipp("uac_listen.xml", tmp_path, target_port=settings.bind_port, rx_port=second_sink.port)
    try:
        results = run_calls(channel, inbox, first, later(7.0, second), expect=2)
    finally:
        first_sink.close()
        second_sink.close()
    assert all(r.ok for r in results), [r.output for r in results]
    (contact,) = inbox.contacts
    assert contact.meta["hours"] == "holiday"
    assert contact.meta["after_hours"] == "1"
    assert snr_db(holiday, first_sink.heard("PCMU")) > 30
    assert snr_db(full, second_sink.heard("PCMU")) > 30
    assert [(c.outcome, c.detail) for c in inbox.calls][1] == (CallOutcome.MISSED, "mailbox full")


def test_reinvite_mid_message_keeps_the_call_and_the_recording(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_reinvite.xml", tmp_path, target_port=settings.bind_port, speech=speech, talk_ms=2500)
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output  # stock pyVoIP re-binds the RTP port and never answers
    (contact,) = inbox.contacts
    assert contact.meta["ended_by"] == "bye"
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")


def test_a_small_rtp_range_is_reused_without_stealing_a_live_calls_port(
    tmp_path: Path, speech: Speech
) -> None:
    low = free_udp_ports(2)
    settings = settings_for(tmp_path, rtp_port_low=low, rtp_port_high=low + 1, max_calls=5)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    target = settings.bind_port
    long_call = run_sipp("uac_talk_bye.xml", tmp_path, target_port=target, speech=speech, talk_ms=6000)
    cancels = [
        later(0.3 + 0.4 * i, run_sipp("uac_cancel.xml", tmp_path, target_port=target)) for i in range(3)
    ]
    second = later(2.0, run_sipp("uac_talk_bye.xml", tmp_path, target_port=target, speech=speech))
    results = run_calls(channel, inbox, long_call, *cancels, second, expect=5)
    assert all(r.ok for r in results), [r.output for r in results if not r.ok]
    assert len(inbox.contacts) == 2
    for contact in inbox.contacts:
        assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")


def test_invite_with_compact_and_empty_headers_is_answered_and_recorded(
    tmp_path: Path, speech: Speech
) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    call = run_sipp("uac_compact_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech)
    (result,) = run_calls(channel, inbox, call)
    assert result.ok, result.output  # stock pyVoIP drops such an INVITE without a word
    (contact,) = inbox.contacts
    assert contact.sender == "0641234567"  # the From user part as on the wire; the core normalises
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")


def test_options_get_200_and_bye_for_an_unknown_call_gets_481(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)

    def request(method: str, call_id: str, port: int) -> bytes:
        return (
            f"{method} sip:48@127.0.0.1:{settings.bind_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}\r\n"
            "From: <sip:pbx@127.0.0.1>;tag=1\r\nTo: <sip:48@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 7 {method}\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    async def scenario() -> list[str]:
        await channel.start(RecordingInbox())
        replies = []
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(3)
                port = sock.getsockname()[1]
                for method, call_id in (("OPTIONS", "qualify1"), ("BYE", "nosuchcall")):
                    sock.sendto(request(method, call_id, port), ("127.0.0.1", settings.bind_port))
                    data = await asyncio.to_thread(sock.recv, 4096)
                    replies.append(data.decode())
        finally:
            await channel.stop()
        return replies

    options, bye = asyncio.run(scenario())
    assert options.startswith("SIP/2.0 200 OK\r\n")
    assert "Call-ID: qualify1" in options and "CSeq: 7 OPTIONS" in options
    assert bye.startswith("SIP/2.0 481 ")
    assert "Call-ID: nosuchcall" in bye


def test_quarantined_voicemail_is_retried_periodically_while_running(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path, quarantine_retry_s=0.3)
    inbox = RecordingInbox(fail_ingest=True)
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    quarantine = settings.state_dir / "quarantine"
    seen: dict[str, object] = {}

    async def scenario() -> None:
        await channel.start(inbox)
        try:
            call = run_sipp("uac_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech)
            assert (await call).ok
            await inbox.wait_calls(1)
            attempts = inbox.ingest_attempts
            await asyncio.sleep(1.0)
            seen["retries_while_failing"] = inbox.ingest_attempts - attempts
            seen["kept"] = sorted(p.suffix for p in quarantine.iterdir())
            seen["metric"] = channel.status().metrics["quarantined"]
            inbox.fail_ingest = False
            for _ in range(40):
                if inbox.contacts:
                    break
                await asyncio.sleep(0.1)
        finally:
            await channel.stop()

    asyncio.run(scenario())
    assert seen["retries_while_failing"] >= 2  # type: ignore[operator]
    assert seen["kept"] == [".json", ".wav"]
    assert seen["metric"] == 1
    (contact,) = inbox.contacts
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")
    assert list(quarantine.iterdir()) == []
    assert channel.status().metrics["quarantined"] == 0


def test_stopping_mid_message_hangs_up_and_still_delivers_the_recording(
    tmp_path: Path, speech: Speech
) -> None:
    settings = settings_for(tmp_path, min_message_s=0.3)
    inbox = RecordingInbox()

    def broken_calendar(_now: object) -> HoursKind:
        raise LookupError("calendar unavailable (injected)")

    channel = VoicemailChannel(settings, hours=broken_calendar, clock=fixed_clock)

    async def scenario() -> Any:
        await channel.start(inbox)
        call = asyncio.create_task(
            run_sipp("uac_talk_vanish.xml", tmp_path, target_port=settings.bind_port,
                     speech=speech)
        )  # fmt: skip
        await asyncio.sleep(4.5)  # ringing, greeting, beep and about 1.5 s of speech
        await channel.stop()
        return await call

    result = asyncio.run(scenario())
    assert result.ok, result.output  # the caller got the gateway's BYE
    (contact,) = inbox.contacts  # delivered before stop() returned
    pcm = wav_pcm(contact.attachments[0].data)[0]
    assert 0 < len(pcm) < len(speech.pcm("PCMU"))
    assert speech.pcm("PCMU").startswith(pcm)
    assert contact.meta["hours"] == "after_hours"  # a failing calendar means: take a message
    assert [c.outcome for c in inbox.calls] == [CallOutcome.VOICEMAIL]


@pytest.mark.parametrize("start_ms", [4800, 300])
def test_a_caller_who_talks_right_after_or_over_the_greeting_is_recorded_whole(
    tmp_path: Path, speech: Speech, start_ms: int
) -> None:
    # The shipped greeting and status hint (the menu is a key press during them, not a wait).
    settings = settings_for(tmp_path, dtmf_menu=True, greeting_after_hours=None)
    inbox = RecordingInbox()

    async def lookup(reference: str) -> str | None:
        return None

    channel = VoicemailChannel(settings, hours=after_hours, status_lookup=lookup, clock=fixed_clock)
    sink = RtpSink()
    call = run_sipp(
        "uac_talk_bye.xml",
        tmp_path,
        target_port=settings.bind_port,
        speech=speech,
        rx_port=sink.port,
        greet_ms=start_ms,
        talk_ms=len(speech.pcm("PCMU")) // 16 + 7000 - start_ms,  # hangs up after the beep
    )
    try:
        (result,) = run_calls(channel, inbox, call)
        heard = np.frombuffer(sink.heard("PCMU"), dtype="<i2").astype(np.float64)
    finally:
        sink.close()
    assert result.ok, result.output
    assert [(c.outcome, c.detail) for c in inbox.calls][:1] == [(CallOutcome.VOICEMAIL, "ended by bye")]
    (contact,) = inbox.contacts
    assert wav_pcm(contact.attachments[0].data)[0] == speech.pcm("PCMU")  # every word, bit-exact
    tone = np.frombuffer(beep(), dtype="<i2").astype(np.float64)
    correlation = np.correlate(heard, tone, mode="valid")
    beep_at_s = int(np.argmax(correlation)) / 8000
    assert 4.0 < beep_at_s <= 8.0  # answer → beep with the shipped prompts
