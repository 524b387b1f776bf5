"""Vocabulary correction: near misses of street and catalogue words take the vocabulary's spelling."""

from __future__ import annotations

from voicemail.transcript import EngineWord
from voicemail.vocabulary import VocabularyCorrector

VOCABULARY = (
    "ulično svetlo",
    "poklopac",
    "Njegoševa",
    "Bulevar oslobođenja",
    "Zmaj Jovina",
    "kanalizacij",
    "kontejner",
    "sijalic",
)


def _heard(text: str) -> list[EngineWord]:
    return [
        EngineWord(word=w, start=i * 0.5, end=i * 0.5 + 0.4, engine_conf=0.7)
        for i, w in enumerate(text.split())
    ]


def _corrected(text: str) -> str:
    return " ".join(w.word for w in VocabularyCorrector(VOCABULARY).correct(_heard(text)))


def test_a_misheard_street_takes_the_registers_spelling_with_the_spoken_ending() -> None:
    assert _corrected("u Negoševoj 14") == "u Njegoševoj 14"


def test_a_two_word_name_is_recognised_as_a_pair() -> None:
    assert _corrected("u Bulevaru oslobodženija broj 3.") == "u Bulevaru oslobođenja broj 3."


def test_catalogue_words_are_mended_in_either_script() -> None:
    assert (
        _corrected("izliva se kanalisacija, kontajner je pun") == "izliva se kanalizacija, kontejner je pun"
    )
    assert _corrected("ne radi sialica") == "ne radi sijalica"
    assert _corrected("Контајнер") == "Kontejner"  # the pipeline then writes the configured script


def test_words_far_from_the_vocabulary_stay_as_heard() -> None:
    said = "dobar dan izvinite što zovem pukla je cev i curi voda u ulici"
    assert _corrected(said) == said


def test_timing_and_confidence_survive_the_correction() -> None:
    before = _heard("u Negoševoj")
    after = VocabularyCorrector(VOCABULARY).correct(before)
    assert [(w.start, w.end, w.engine_conf) for w in after] == [
        (w.start, w.end, w.engine_conf) for w in before
    ]
    assert after[1].word == "Njegoševoj"


def test_a_correct_declined_form_is_left_alone() -> None:
    assert _corrected("nema poklopca na šahtu") == "nema poklopca na šahtu"
