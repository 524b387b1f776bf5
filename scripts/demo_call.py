"""Place one test call to the running gateway's hotline with sipp and real RTP speech.

    .venv/bin/python scripts/demo_call.py [--port 5062] [--caller 0641234567] [--text "…"]

Speech is made with espeak-ng (Serbian voice) and streamed as G.711 by sipp (Debian sip-tester),
using the same scenario files as the tests (tests/voicemail/sipp/).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.voicemail.sip_harness import make_speech, run_sipp


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=5062, help="the gateway's SIP port")
    parser.add_argument("--caller", default="0641234567", help="the caller's number (From)")
    parser.add_argument("--text", default="Dobro veče. U Njegoševoj ulici broj 14 ne radi ulična rasveta.")
    parser.add_argument(
        "--wait",
        type=float,
        default=5.0,
        help="seconds after answer before speaking (speech over the greeting is kept too)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s48-call-") as tmp:
        speech = make_speech(Path(tmp), args.text)
        seconds = len(speech.pcm_ul) / 16000
        result = asyncio.run(
            run_sipp(
                "uac_talk_bye.xml",
                Path(tmp),
                target_port=args.port,
                caller=args.caller,
                speech=speech,
                greet_ms=int(args.wait * 1000),
                talk_ms=int(seconds * 1000) + 1500,
                timeout_s=90,
            )
        )
    print("call completed" if result.ok else f"call failed:\n{result.output}")
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
