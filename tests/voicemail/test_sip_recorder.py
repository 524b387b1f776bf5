"""Recorder and audio helpers without a network: a WAV-backed call leg feeds G.711 packets in
any order, with losses and timestamp wrap-around; stop conditions run on a fake clock."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from voicemail.audio import (
    AudioFormatError,
    beep,
    decode_g711,
    encode_g711,
    load_sound,
    read_wav,
    rms,
    silence,
    wav_bytes,
)
from voicemail.recorder import EndReason, Recorder
from voicemail.settings import HoursKind, SipSettings

FRAME = 160


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WavLeg:
    """Plays a WAV as the RTP packets a caller would send: (timestamp, payload) per 20 ms."""

    def __init__(self, pcm16: bytes, codec: str, first_ts: int) -> None:
        encoded = encode_g711(codec, pcm16)  # type: ignore[arg-type]
        encoded = encoded[: len(encoded) - len(encoded) % FRAME]
        self.codec = codec
        self.expected = decode_g711(codec, encoded)  # type: ignore[arg-type]
        self.packets = [
            ((first_ts + i) % (1 << 32), encoded[i : i + FRAME]) for i in range(0, len(encoded), FRAME)
        ]


def recorder(clock: FakeMonotonic | None = None, **kw: float) -> Recorder:
    args = {"max_message_s": 60.0, "silence_stop_s": 5.0, "rtp_timeout_s": 3.0}
    args.update(kw)
    return Recorder(monotonic=clock or FakeMonotonic(), **args)


@pytest.fixture(scope="module")
def message() -> bytes:
    return load_sound("status_in_progress")


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_reordered_packets_across_a_timestamp_wrap_decode_bit_exact(message: bytes, codec: str) -> None:
    leg = WavLeg(message, codec, first_ts=(1 << 32) - 40 * FRAME)  # wraps after 40 packets
    rec = recorder()
    rec.arm()
    shuffled = leg.packets[:]
    random.Random(7).shuffle(shuffled)
    for ts, payload in shuffled:
        rec.feed(ts, codec, payload)  # type: ignore[arg-type]
    assert rec.pcm16() == leg.expected


def test_lost_packets_become_digital_silence_of_the_same_length(message: bytes) -> None:
    leg = WavLeg(message, "PCMU", first_ts=123456)
    rec = recorder()
    rec.arm()
    lost = {5, 6, 30}
    for i, (ts, payload) in enumerate(leg.packets):
        if i not in lost:
            rec.feed(ts, "PCMU", payload)
    out = rec.pcm16()
    assert len(out) == len(leg.expected)
    step = FRAME * 2
    for i in range(len(leg.packets)):
        chunk = out[i * step : (i + 1) * step]
        if i in lost:
            assert chunk == b"\x00" * step
        else:
            assert chunk == leg.expected[i * step : (i + 1) * step]


def test_duplicates_and_overlaps_do_not_repeat_audio(message: bytes) -> None:
    leg = WavLeg(message, "PCMA", first_ts=0)
    rec = recorder()
    rec.arm()
    for ts, payload in leg.packets + leg.packets[3:9]:
        rec.feed(ts, "PCMA", payload)
    half = leg.packets[10][1] + leg.packets[11][1][:80]
    rec.feed(leg.packets[10][0], "PCMA", half)  # a 30 ms packet overlapping the next one
    assert rec.pcm16() == leg.expected


def test_audio_before_arm_is_not_kept(message: bytes) -> None:
    leg = WavLeg(message, "PCMU", first_ts=0)
    rec = recorder()
    for ts, payload in leg.packets[:10]:
        rec.feed(ts, "PCMU", payload)
    rec.arm()
    for ts, payload in leg.packets[10:]:
        rec.feed(ts, "PCMU", payload)
    assert rec.pcm16() == leg.expected[10 * FRAME * 2 :]


def test_stop_conditions_follow_the_clock() -> None:
    clock = FakeMonotonic()
    loud = encode_g711("PCMU", beep()[:320])
    quiet = bytes([0xFF]) * FRAME
    rec = recorder(clock, max_message_s=20, silence_stop_s=4, rtp_timeout_s=2)
    assert rec.check() is None  # not armed: nothing can end yet
    rec.arm()
    for i in range(100):  # 2 s of speech, a packet every 20 ms
        clock.now += 0.02
        rec.feed(i * FRAME, "PCMU", loud)
    assert rec.check() is None
    clock.now += 1.9
    assert rec.check() is None
    clock.now += 0.2
    assert rec.check() == EndReason.RTP_TIMEOUT

    rec = recorder(clock, max_message_s=20, silence_stop_s=4, rtp_timeout_s=2)
    rec.arm()
    for i in range(300):  # quiet but present for 6 s
        clock.now += 0.02
        rec.feed(i * FRAME, "PCMU", quiet)
        if rec.check() is not None:
            break
    assert rec.check() == EndReason.SILENCE
    assert 3.9 < i * 0.02 < 4.1

    rec = recorder(clock, max_message_s=3, silence_stop_s=60, rtp_timeout_s=2)
    rec.arm()
    for i in range(200):
        clock.now += 0.02
        rec.feed(i * FRAME, "PCMU", loud)
    assert rec.check() == EndReason.MAX_LENGTH


def test_dtmf_packets_keep_the_rtp_timeout_at_bay() -> None:
    clock = FakeMonotonic()
    rec = recorder(clock, rtp_timeout_s=1, silence_stop_s=60)
    rec.arm()
    for _ in range(10):
        clock.now += 0.5
        rec.note_activity()
    assert rec.check() is None


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=4000), st.sampled_from(["PCMU", "PCMA"]))
def test_g711_round_trip_is_stable_after_one_encoding(data: bytes, codec: str) -> None:
    once = decode_g711(codec, data)  # type: ignore[arg-type]
    assert decode_g711(codec, encode_g711(codec, once)) == once  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sox_args",
    [
        ["-r", "44100", "-c", "2", "-b", "24"],
        ["-r", "16000", "-c", "1", "-e", "floating-point", "-b", "32"],
        ["-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer"],
        ["-r", "11025", "-c", "1", "-b", "32", "-e", "signed-integer"],
        ["-r", "8000", "-c", "1", "-e", "a-law"],
        ["-r", "8000", "-c", "1", "-e", "u-law"],
    ],
)
def test_any_wav_greeting_converts_to_8khz_pcm16(tmp_path: Path, sox_args: list[str]) -> None:
    source = Path(__file__).parents[2] / "voicemail" / "sounds" / "goodbye.wav"
    converted = tmp_path / "greeting.wav"
    subprocess.run(["sox", str(source), *sox_args, str(converted)], check=True)
    original = read_wav(source)
    pcm = read_wav(converted)
    assert abs(len(pcm) - len(original)) <= 8
    assert rms(pcm) == pytest.approx(rms(original), rel=0.1)


def test_a_non_wav_greeting_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "greeting.wav"
    bogus.write_bytes(b"ID3 this is an mp3")
    with pytest.raises(AudioFormatError):
        read_wav(bogus)


def test_written_wav_is_8khz_mono_16bit_and_reads_back_unchanged(message: bytes) -> None:
    data = wav_bytes(message)
    assert data[:4] == b"RIFF"
    assert read_wav(data) == message


def test_shipped_prompts_are_small_8khz_mono_16bit_files() -> None:
    folder = Path(__file__).parents[2] / "voicemail" / "sounds"
    names = {p.stem for p in folder.glob("*.wav")}
    assert {"after_hours", "holiday", "mailbox_full", "in_hours", "beep", "menu"} <= names
    for path in folder.glob("*.wav"):
        data = path.read_bytes()
        assert data[22:24] == b"\x01\x00"  # mono
        assert int.from_bytes(data[24:28], "little") == 8000
        assert data[34:36] == b"\x10\x00"  # 16 bits
        assert len(data) < 200_000


def test_settings_reject_unknown_keys_and_default_to_a_working_demo() -> None:
    defaults = SipSettings()
    assert (defaults.mode, defaults.bind_host, defaults.in_hours) == ("trunk", "127.0.0.1", "busy")
    assert defaults.password_env == "SISTEM48_SIP_PASSWORD"
    with pytest.raises(ValidationError):
        SipSettings.model_validate({"pasword_env": "X"})
    assert [k.value for k in HoursKind] == ["business", "after_hours", "holiday"]


def test_speech_over_the_greeting_is_kept_from_just_before_it_starts(message: bytes) -> None:
    quiet = silence(1.0)
    leg = WavLeg(quiet + message, "PCMU", first_ts=5000)
    rec = recorder()
    rec.listen()
    split = (len(quiet) // 2 + len(message) // 4) // FRAME  # the beep comes mid-sentence
    for ts, payload in leg.packets[:split]:
        rec.feed(ts, "PCMU", payload)
    rec.arm()
    for ts, payload in leg.packets[split:]:
        rec.feed(ts, "PCMU", payload)
    out = rec.pcm16()
    # Everything the caller said is there, from half a second of lead-in on.
    assert out.endswith(leg.expected[len(quiet) :])
    assert len(out) >= len(leg.expected) - len(quiet) + int(0.4 * 8000) * 2


def test_a_silent_listener_adds_nothing_before_the_beep(message: bytes) -> None:
    quiet = silence(3.0)
    leg = WavLeg(quiet + message, "PCMA", first_ts=0)
    rec = recorder()
    rec.listen()
    split = len(quiet) // 2 // FRAME
    for ts, payload in leg.packets[:split]:
        rec.feed(ts, "PCMA", payload)
    rec.arm()
    for ts, payload in leg.packets[split:]:
        rec.feed(ts, "PCMA", payload)
    assert rec.pcm16() == leg.expected[split * FRAME * 2 :]


def test_speech_over_the_greeting_counts_as_heard_silence_does_not(message: bytes) -> None:
    talker, listener = recorder(), recorder()
    talker.listen()
    listener.listen()
    for ts, payload in WavLeg(message, "PCMU", first_ts=0).packets:
        talker.feed(ts, "PCMU", payload)
    for ts, payload in WavLeg(silence(2.0), "PCMU", first_ts=0).packets:
        listener.feed(ts, "PCMU", payload)
    assert talker.heard_voice and not listener.heard_voice
    assert talker.pcm16() == WavLeg(message, "PCMU", first_ts=0).expected  # kept without a beep
