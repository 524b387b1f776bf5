"""One loaded Vosk model per process, one warm recognizer per worker thread, reset between voicemails."""

from __future__ import annotations

import asyncio
import difflib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from sqlmodel import select

from gateway.workers import TranscriptionWorker
from storage.db import session_scope
from storage.models import Job
from storage.queue import enqueue_job
from tests.voicemail.asr_audio import KOREAN_SENTENCES, RATE, espeak_wav, pcm_of, silence, vosk_transcriber
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.vosk_engine import VoskTranscriber


@pytest.fixture(scope="module")
def sentences(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("reuse_audio")
    return [pcm_of(espeak_wav(folder / f"{i}.wav", s, "ko")) for i, s in enumerate(KOREAN_SENTENCES[:2])]


def _vosk() -> VoskTranscriber:
    transcriber = vosk_transcriber()
    assert isinstance(transcriber, VoskTranscriber)
    return transcriber


def test_a_reset_recognizer_gives_the_words_and_times_of_a_fresh_one(sentences: list[bytes]) -> None:
    first, other = sentences[0] + silence(1.0) + sentences[1], sentences[1]
    transcriber = _vosk()
    transcriber.release_memory()
    fresh = transcriber.transcribe(first, RATE)
    # The second `first` runs on the recognizer that heard the three before it: Vosk's clock has
    # run on by their length, and the transcriber must take that back out.
    transcriber.transcribe(other, RATE)
    transcriber.transcribe(other, RATE)
    reused = transcriber.transcribe(first, RATE)
    assert transcriber.idle_recognizers() == 1
    # Not bit-identical: the lazily composed graph numbers its states in the order they were
    # reached, so a warm recognizer may break a pruning tie differently (as threads do, see
    # test_concurrent_voicemails_share_one_model_and_match_serial_results).
    expected, got = [w.word for w in fresh.words], [w.word for w in reused.words]
    assert expected, "espeak-ng speech should give the decoder something to say"
    assert difflib.SequenceMatcher(a=expected, b=got).ratio() >= 0.5, (got, expected)
    assert got[:3] == expected[:3]
    # Times are in this voicemail's timeline, not continued from the two before it.
    for a, b in zip(fresh.words[:3], reused.words[:3], strict=True):
        assert a.start == pytest.approx(b.start, abs=0.02)
        assert a.end == pytest.approx(b.end, abs=0.02)
    assert reused.words[-1].end == pytest.approx(fresh.words[-1].end, abs=0.3)
    assert all(0 <= w.start <= w.end <= reused.duration_s for w in reused.words)


def test_concurrent_decodes_get_their_own_recognizers_and_release_drops_them(
    sentences: list[bytes],
) -> None:
    transcriber = _vosk()
    transcriber.release_memory()
    barrier = threading.Barrier(2)

    def decode(pcm: bytes) -> None:
        barrier.wait()  # both at once: one recognizer must never serve two decodes
        transcriber.transcribe(pcm, RATE)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(decode, sentences))
    assert transcriber.idle_recognizers() == 2
    # One after the other, any number of threads share the idle ones instead of adding more.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for pcm in sentences * 2:
            pool.submit(transcriber.transcribe, pcm, RATE).result()
    assert transcriber.idle_recognizers() == 2
    transcriber.release_memory()
    assert transcriber.idle_recognizers() == 0


def test_the_model_loads_once_when_the_first_jobs_arrive_in_parallel() -> None:
    loads: list[int] = []

    def slow_factory() -> object:
        loads.append(threading.get_ident())
        time.sleep(0.2)  # a model load takes seconds; both job threads ask within this window
        return object()

    # transcriber() touches neither the database nor the blobs.
    worker = TranscriptionWorker(
        cast(Any, None), cast(Any, None), cast(Any, None), slow_factory, cast(Any, None), "test"
    )
    barrier = threading.Barrier(2)

    def first_job(_: int) -> object:
        barrier.wait()
        return worker.transcriber()

    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(first_job, range(2)))
    assert len(loads) == 1
    assert got[0] is got[1]


class _ScriptedWorker(TranscriptionWorker):
    """The real claim/finish loop on a real database; the decode of each job is a test script."""

    def __init__(self, gw: Any, scripts: dict[int, Callable[[], object]]) -> None:
        super().__init__(gw.engine, gw.blobs, gw.tickets, _vosk, gw.clock, "test-worker")
        self.scripts = scripts

    def transcribe_attachment(self, attachment_id: int) -> Any:
        self.scripts[attachment_id]()


def _enqueue(gw: Any, attachment_ids: range) -> None:
    with session_scope(gw.engine, write=True) as s:
        for attachment_id in attachment_ids:
            enqueue_job(s, "transcribe", {"attachment_id": attachment_id}, gw.clock())


def test_a_free_thread_takes_the_next_job_while_a_long_voicemail_is_still_decoding(gateway: Any) -> None:
    third_started = threading.Event()
    order: list[int] = []

    def long_voicemail() -> None:
        # With batch-at-a-time claiming job 3 would wait for this one: the wait would time out.
        assert third_started.wait(timeout=30), "job 3 did not start while job 1 ran"
        order.append(1)

    def short(n: int) -> Callable[[], None]:
        def run() -> None:
            if n == 3:
                third_started.set()
            order.append(n)

        return run

    _enqueue(gateway, range(1, 4))
    worker = _ScriptedWorker(gateway, {1: long_voicemail, 2: short(2), 3: short(3)})
    assert asyncio.run(worker.run_once(limit=2)) == 3
    assert order.index(3) < order.index(1)
    with session_scope(gateway.engine) as s:
        assert [j.state for j in s.exec(select(Job))] == ["done"] * 3


def test_a_drained_queue_hands_the_warm_recognizers_back(gateway: Any, sentences: list[bytes]) -> None:
    transcriber = _vosk()
    _enqueue(gateway, range(1, 2))
    worker = _ScriptedWorker(gateway, {1: lambda: transcriber.transcribe(sentences[0], RATE)})
    worker.transcriber()
    assert asyncio.run(worker.run_once()) == 1
    assert transcriber.idle_recognizers() >= 1, "the night's threads keep their recognizers"
    assert asyncio.run(worker.run_once()) == 0
    assert transcriber.idle_recognizers() == 0


def test_an_idle_worker_drops_the_model_and_loads_it_again_for_the_next_job(
    gateway: Any, sentences: list[bytes]
) -> None:
    loaded: list[VoskTranscriber] = []

    def load() -> VoskTranscriber:
        loaded.append(VoskTranscriber(TranscriptionSettings(unload_after_idle_s=0.2), environ={}))
        return loaded[-1]

    class Worker(TranscriptionWorker):
        def transcribe_attachment(self, attachment_id: int) -> Any:
            return self.transcriber().transcribe(sentences[0], RATE)

    worker = Worker(gateway.engine, gateway.blobs, gateway.tickets, load, gateway.clock, "test-worker")
    _enqueue(gateway, range(1, 2))
    assert asyncio.run(worker.run_once()) == 1
    assert asyncio.run(worker.run_once()) == 0  # drained: warm recognizers released, model kept
    assert asyncio.run(worker.run_once()) == 0
    assert worker._transcriber is loaded[0], "unloaded before unload_after_idle_s passed"
    time.sleep(0.3)
    assert asyncio.run(worker.run_once()) == 0
    assert worker._transcriber is None
    _enqueue(gateway, range(2, 3))
    assert asyncio.run(worker.run_once()) == 1
    assert len(loaded) == 2
    with session_scope(gateway.engine) as s:
        assert [j.state for j in s.exec(select(Job))] == ["done"] * 2


def test_a_transcription_worker_process_does_not_load_the_web_stack(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gateway.cli import app\n"
        "from gateway.app import build_gateway\n"
        "from gateway.workers import TranscriptionWorker\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'jinja2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
