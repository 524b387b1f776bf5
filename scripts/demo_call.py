"""Place one test call to the running gateway's hotline with real RTP speech.

    .venv/bin/python scripts/demo_call.py [--port 5062] [--caller 0641234567] [--wait 7]

Needs nothing beyond Python: a small SIP caller (scripts/sip_caller.py) streams the shipped Serbian
speech (scripts/demo_speech.ul, G.711 mu-law) after the greeting and hangs up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sip_caller import place_call

SPEECH = Path(__file__).with_name("demo_speech.ul")  # "Dobro veče. Na uglu Njegoševe i Kralja Milana …"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=5062, help="the gateway's SIP port")
    parser.add_argument("--caller", default="0641234567", help="the caller's number (From)")
    parser.add_argument(
        "--wait", type=float, default=7.0, help="seconds after answer before speaking"
    )
    args = parser.parse_args()
    result = place_call(args.port, SPEECH.read_bytes(), caller=args.caller, wait_s=args.wait)
    print("call completed" if result.ok else f"call failed: {result.detail}")
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
