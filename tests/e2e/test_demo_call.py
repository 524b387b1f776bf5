"""The README's demo call works with nothing but Python: scripts/demo_call.py (no sipp, espeak-ng or
sox on the PATH) leaves a voicemail on a running hotline, bit-exact."""

from __future__ import annotations

import asyncio
import audioop
import io
import sys
import wave
from pathlib import Path

import pytest

from tests.voicemail.sip_harness import RecordingInbox, fixed_clock, settings_for
from voicemail.channel import VoicemailChannel
from voicemail.settings import HoursKind

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def test_demo_call_leaves_a_voicemail_with_only_python_on_the_path(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    channel = VoicemailChannel(settings, hours=lambda _now: HoursKind.AFTER_HOURS, clock=fixed_clock)

    async def scenario() -> tuple[int, str]:
        await channel.start(inbox)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "scripts" / "demo_call.py"),
                "--port", str(settings.bind_port), "--wait", "1.5", "--caller", "0641234567",
                env={"PATH": str(Path(sys.executable).parent)},  # no sipp, espeak-ng or sox here
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
            await inbox.wait_calls(1)
            return proc.returncode or 0, out.decode(errors="replace")
        finally:
            await channel.stop()

    code, output = asyncio.run(scenario())
    assert code == 0 and "call completed" in output, output
    (contact,) = inbox.contacts
    assert contact.sender == "0641234567"  # as on the wire; the core reads it as E.164
    with wave.open(io.BytesIO(contact.attachments[0].data)) as recording:
        pcm = recording.readframes(recording.getnframes())
    speech = audioop.ulaw2lin((ROOT / "scripts" / "demo_speech.ul").read_bytes(), 2)
    assert speech in pcm  # every word arrived, bit-exact
