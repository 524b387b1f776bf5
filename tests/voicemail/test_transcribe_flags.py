"""Low-confidence marking, speech-region planning and time mapping, without loading a model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicemail.pipeline import _Piece, _splice, _to_original_time, decode_regions
from voicemail.transcript import EngineWord, Transcript, Word, flag_words, syllable_units, transcript_reasons
from voicemail.vad import SpeechEvidence
from voicemail.vosk_engine import MfccConf

SPEECH = ((1.0, 4.0),)


def word(text: str, start: float, end: float, conf: float | None = 0.9) -> EngineWord:
    return EngineWord(word=text, start=start, end=end, engine_conf=conf)


def reasons_of(w: EngineWord, speech: tuple[tuple[float, float], ...] | None = SPEECH) -> set[str]:
    (flagged,) = flag_words([w], speech, threshold=0.5)
    assert flagged.low == bool(flagged.reasons)
    return set(flagged.reasons)


def test_a_confident_plausible_word_inside_speech_is_not_low() -> None:
    assert reasons_of(word("kanalizacija", 1.2, 2.0)) == set()


def test_low_engine_conf_marks_a_word_and_keeps_the_raw_number() -> None:
    (flagged,) = flag_words([word("voda", 1.2, 1.6, conf=0.31)], SPEECH, threshold=0.5)
    assert flagged.reasons == ("engine_conf_low",)
    assert flagged.engine_conf == 0.31


def test_a_confident_word_stretched_over_seconds_is_too_long() -> None:
    # Recipe §4: pink noise gave a conf-1.0 "word" 3.4 s long.
    assert reasons_of(word("이", 1.0, 3.4, conf=1.0)) == {"too_long"}


def test_a_long_word_is_not_too_long_when_it_has_the_syllables_for_it() -> None:
    assert reasons_of(word("elektrodistribucija", 1.0, 2.6)) == set()


def test_many_syllables_in_an_instant_are_too_short() -> None:
    assert reasons_of(word("neodgovornost", 1.0, 1.1)) == {"too_short"}
    assert reasons_of(word("the", 2.0, 2.0)) == {"too_short"}


def test_a_word_outside_the_vad_speech_is_marked() -> None:
    assert reasons_of(word("hello", 5.0, 5.4)) == {"outside_speech"}
    assert reasons_of(word("hello", 3.9, 4.3)) == set()  # mostly inside
    assert reasons_of(word("hello", 5.0, 5.4), speech=None) == set()  # no VAD ran


def test_syllable_units_count_across_scripts() -> None:
    assert syllable_units("수도관이") == 4
    assert syllable_units("vodovod") == 3
    assert syllable_units("водовод") == 3
    assert syllable_units("[5]") == 1
    assert syllable_units("prst") == 1


def flagged(*specs: tuple[str, float, float, float]) -> tuple[Word, ...]:
    return flag_words([word(*s) for s in specs], SPEECH, threshold=0.5)


def test_a_transcript_with_mostly_low_words_is_low_confidence() -> None:
    words = flagged(("a", 1.0, 1.2, 0.2), ("b", 1.3, 1.5, 0.3), ("c", 1.6, 1.8, 0.95))
    reasons = transcript_reasons(words, "a b c", speech_s=3.0, threshold=0.5)
    assert "many_low_words" in reasons


def test_a_low_mean_conf_flags_the_transcript_even_when_few_words_are_low() -> None:
    words = flagged(*[(f"w{i}", 1.0 + i * 0.3, 1.2 + i * 0.3, 0.55) for i in range(8)])
    reasons = transcript_reasons(words, "x", speech_s=3.0, threshold=0.5)
    assert reasons == ("low_mean_engine_conf",)


def test_too_many_words_for_the_speech_is_suspicious() -> None:
    words = flagged(*[(f"w{i}", 1.0 + i * 0.05, 1.04 + i * 0.05, 0.9) for i in range(40)])
    reasons = transcript_reasons(words, "x", speech_s=3.0, threshold=0.5)
    assert "too_many_words_for_speech" in reasons


def test_one_word_for_long_speech_is_suspicious() -> None:
    words = flagged(("da", 1.0, 1.3, 0.99))
    assert transcript_reasons(words, "da", speech_s=10.0, threshold=0.5) == ("too_few_words_for_speech",)
    # Without VAD evidence the rate checks cannot be made.
    assert transcript_reasons(words, "da", speech_s=None, threshold=0.5) == ()


def test_repetitive_text_is_flagged_as_a_loop() -> None:
    text = " ".join(["thank you"] * 30)
    words = flagged(*[("thank", 1.0 + i * 0.05, 1.04 + i * 0.05, 0.9) for i in range(1)])
    assert "repetitive_text" in transcript_reasons(words, text, speech_s=None, threshold=0.5)


def test_speech_without_words_is_low_confidence_and_silence_is_not() -> None:
    assert transcript_reasons((), "", speech_s=4.0, threshold=0.5) == ("no_words_for_speech",)
    assert transcript_reasons((), "", speech_s=None, threshold=0.5) == ()


def test_a_clean_transcript_has_no_reasons() -> None:
    words = flagged(*[(f"riječ{i}", 1.0 + i * 0.4, 1.3 + i * 0.4, 0.9) for i in range(7)])
    text = " ".join(w.word for w in words)
    assert transcript_reasons(words, text, speech_s=3.0, threshold=0.5) == ()


def test_regions_are_padded_and_merged_and_skipped_when_they_save_little() -> None:
    sparse = SpeechEvidence(speech_s=4.0, total_s=30.0, segments=((2.0, 4.0), (4.5, 5.0), (20, 21.5)))
    assert decode_regions(sparse) == ((1.7, 5.3), (19.7, 21.8))
    dense = SpeechEvidence(speech_s=9.0, total_s=10.0, segments=((0.2, 9.5),))
    assert decode_regions(dense) == ((0.0, 10.0),)
    edge = SpeechEvidence(speech_s=1.0, total_s=30.0, segments=((0.1, 1.0), (29.5, 29.9)))
    assert decode_regions(edge) == ((0.0, 1.3), (29.2, 30.0))


def test_spliced_times_map_back_to_the_original_recording() -> None:
    rate = 100
    pcm = bytes(2 * rate * 30)
    spliced, pieces = _splice(pcm, rate, ((1.7, 5.3), (19.7, 21.8)))
    assert len(spliced) == 2 * rate * (3.6 + 2.1)
    assert _to_original_time(0.0, pieces, is_end=False) == pytest.approx(1.7)
    assert _to_original_time(1.0, pieces, is_end=False) == pytest.approx(2.7)
    # The boundary is the end of the first piece for an end, the start of the second for a start.
    assert _to_original_time(3.6, pieces, is_end=True) == pytest.approx(5.3)
    assert _to_original_time(3.6, pieces, is_end=False) == pytest.approx(19.7)
    assert _to_original_time(5.7, pieces, is_end=True) == pytest.approx(21.8)
    assert _to_original_time(9.0, pieces, is_end=True) == pytest.approx(21.8)


@given(
    st.lists(st.tuples(st.floats(0.05, 5.0), st.floats(0.05, 5.0)), min_size=1, max_size=6),
    st.data(),
)
def test_mapped_times_never_decrease(
    gaps_and_lengths: list[tuple[float, float]], data: st.DataObject
) -> None:
    pieces = []
    decoded = original = 0.0
    for gap, length in gaps_and_lengths:
        original += gap
        pieces.append(_Piece(decoded_start=decoded, original_start=original, length=length))
        decoded += length
        original += length
    times = sorted(data.draw(st.lists(st.floats(0.0, decoded), min_size=2, max_size=20)))
    mapped = [_to_original_time(t, pieces, is_end=False) for t in times]
    assert mapped == sorted(mapped)
    assert all(pieces[0].original_start <= m <= original for m in mapped)


def test_mfcc_conf_decides_the_rate_vosk_is_fed() -> None:
    ko = MfccConf.parse("--use-energy=false\n--allow-upsample=true\n--allow-downsample=true\n")
    assert (ko.sample_rate, ko.feed_rate(8000), ko.feed_rate(44100)) == (16000, 8000, 44100)
    en = MfccConf.parse("--use-energy=false  # small-en-us\n--allow-downsample=true\n")
    assert (en.feed_rate(8000), en.feed_rate(16000), en.feed_rate(48000)) == (16000, 16000, 48000)
    narrowband = MfccConf.parse("--sample-frequency=8000\n")
    assert (narrowband.feed_rate(8000), narrowband.feed_rate(16000)) == (8000, 8000)


def test_transcript_json_rejects_an_unknown_version() -> None:
    doc = Transcript(
        text="",
        words=(),
        engine="vosk",
        model="m",
        language=None,
        duration_s=1.0,
        speech_s=0.0,
        has_speech=False,
        low_confidence=False,
        reasons=("no_speech",),
        decode_s=0.01,
    ).to_json()
    assert Transcript.from_json(doc).reasons == ("no_speech",)
    with pytest.raises(ValueError, match="version"):
        Transcript.from_json({**doc, "version": 99})
