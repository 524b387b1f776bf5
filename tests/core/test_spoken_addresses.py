"""Serbian number words and spoken addresses: what a transcript says is read as street and number."""

from __future__ import annotations

import pytest

from gateway.address import find_address, register_of
from gateway.config import load_config
from gateway.numbers import numbers_as_digits, spoken_number
from gateway.text import words


@pytest.mark.parametrize(
    ("said", "value"),
    [
        ("dvanaest", 12),
        ("dvadeset i pet", 25),
        ("dvadeset pet", 25),
        ("dvadesetpet", 25),
        ("sto dvadeset tri", 123),
        ("trista", 300),
        ("četrnaestom", 14),
        ("dvanaes", 12),
        ("četrnajst", 14),
        ("sedamnajst", 17),
        ("двадесет три", 23),
        ("devetsto devedeset devet", 999),
        ("prvi", 1),
        ("14", 14),
    ],
)
def test_serbian_number_words_read_as_their_value(said: str, value: int) -> None:
    assert spoken_number(words(said), 0) == (value, len(words(said)))


@pytest.mark.parametrize("said", ["izvinite što zovem", "desno", "u drugoj ulici", "sestra"])
def test_ordinary_words_are_not_numbers(said: str) -> None:
    assert numbers_as_digits(words(said)) == words(said)


def test_a_number_stops_where_a_bigger_one_would_start_over() -> None:
    # "dvadeset trideset" is two numbers said one after the other, not fifty.
    assert numbers_as_digits(words("broj dvadeset trideset pet")) == ["broj", "20", "35"]


@pytest.mark.parametrize(
    ("said", "address"),
    [
        ("Dobar dan, u Njegoševoj dvanaest ne radi sijalica", "Njegoševa 12"),
        ("kod broja četrnaest u Njegoševoj", "Njegoševa 14"),
        ("u ulici Kralja Petra broj dvadeset i pet pukla je cev", "Ulica kralja Petra I 25"),
        ("у Футошкој двадесет три", "Futoška 23"),
        ("Izvinite što zovem, u Dunavskoj broj sedamnaes", "Dunavska 17"),
    ],
)
def test_a_house_number_said_in_words_completes_the_address(said: str, address: str) -> None:
    found = find_address(said, register_of(load_config(None)))
    assert found is not None and found.text == address
