#!/usr/bin/env bash
# Re-makes the greetings that lead to the beep with espeak-ng (Serbian voice), 8 kHz mono PCM16,
# leading/trailing silence trimmed: answer → beep stays under 8 s with the status hint (menu.wav).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
say() {
  espeak-ng -v sr -s 180 -w "$tmp/$1.wav" "$2"
  sox "$tmp/$1.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1.wav" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0 0.15
}
say after_hours "Sistem četrdeset osam. Posle signala recite šta se desilo, ulicu i broj."
say in_hours "Sistem četrdeset osam. Posle signala recite šta se desilo, ulicu i broj."
say holiday "Sistem četrdeset osam, danas je praznik. Posle signala recite šta se desilo, ulicu i broj."
say menu "Stanje prijave: pritisnite dva."
