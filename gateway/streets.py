"""The municipality's street register: a CSV export (name, optional house-number range, optional
coordinates, one row per street or per house) read once; a small example register ships with us.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gateway.text import words

log = logging.getLogger(__name__)

EXAMPLE_REGISTER = "streets.example.csv"
# Column names as municipal address-register exports spell them (first match wins).
_COLUMNS = {
    "name": ("name", "ulica", "naziv_ulice", "naziv", "street"),
    "aliases": ("aliases", "alias", "drugi_nazivi"),
    "house_from": ("house_from", "od_broja", "broj_od"),
    "house_to": ("house_to", "do_broja", "broj_do"),
    "number": ("number", "broj", "kucni_broj"),
    "lat": ("lat", "latitude", "sirina"),
    "lon": ("lon", "lng", "longitude", "duzina"),
}
# Words that name the kind of street, not the street: "u Ulici kralja Petra" matches "Kralja Petra".
GENERIC_WORDS = frozenset({"ulica", "ul", "ulici", "ulicu", "ulice"})


@dataclass(frozen=True, slots=True)
class House:
    number: int
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Street:
    name: str
    spellings: tuple[tuple[str, ...], ...]  # folded word sequences: the name and its aliases
    house_from: int | None = None
    house_to: int | None = None
    lat: float | None = None
    lon: float | None = None
    houses: tuple[House, ...] = ()

    def has_number(self, number: int) -> bool:
        if self.houses:
            return any(h.number == number for h in self.houses) or self._in_range(number)
        return self._in_range(number)

    def _in_range(self, number: int) -> bool:
        low = self.house_from if self.house_from is not None else 1
        return low <= number and (self.house_to is None or number <= self.house_to)

    def coordinates(self, number: int | None) -> tuple[float, float] | None:
        """The house's coordinates when the register has them, else the street's."""
        if number is not None and self.houses:
            nearest = min(self.houses, key=lambda h: abs(h.number - number))
            return nearest.lat, nearest.lon
        if self.lat is not None and self.lon is not None:
            return self.lat, self.lon
        return None


def _spelling(name: str) -> tuple[str, ...]:
    return tuple(w for w in words(name) if w not in GENERIC_WORDS)


def _cell(row: dict[str, str], key: str) -> str:
    for column in _COLUMNS[key]:
        value = row.get(column)
        if value is not None and value.strip():
            return value.strip()
    return ""


def _int(text: str) -> int | None:
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else None


def _float(text: str) -> float | None:
    try:
        return float(text.replace(",", ".")) if text else None
    except ValueError:
        return None


def parse_register(text: str) -> tuple[Street, ...]:
    """Streets from CSV text (comma or semicolon separated, header row required)."""
    dialect = "excel" if text.split("\n", 1)[0].count(",") >= text.split("\n", 1)[0].count(";") else None
    reader = csv.DictReader(io.StringIO(text), delimiter="," if dialect else ";")
    by_name: dict[str, dict[str, object]] = {}
    for row in reader:
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        name = _cell(row, "name")
        if not name or not _spelling(name):
            continue
        entry = by_name.setdefault(
            name, {"aliases": set(), "from": None, "to": None, "lat": None, "lon": None, "houses": []}
        )
        aliases = entry["aliases"]
        assert isinstance(aliases, set)
        aliases.update(a.strip() for a in _cell(row, "aliases").split("|") if a.strip())
        lat, lon = _float(_cell(row, "lat")), _float(_cell(row, "lon"))
        number = _int(_cell(row, "number"))
        if number is not None and lat is not None and lon is not None:
            houses = entry["houses"]
            assert isinstance(houses, list)
            houses.append(House(number, lat, lon))
            continue
        entry["from"] = _int(_cell(row, "house_from")) or entry["from"]
        entry["to"] = _int(_cell(row, "house_to")) or entry["to"]
        if lat is not None and lon is not None:
            entry["lat"], entry["lon"] = lat, lon
    streets = []
    for name, entry in by_name.items():
        aliases = entry["aliases"]
        houses = entry["houses"]
        assert isinstance(aliases, set) and isinstance(houses, list)
        spellings = tuple(dict.fromkeys([_spelling(name), *(_spelling(a) for a in sorted(aliases))]))
        street_lat, street_lon = entry["lat"], entry["lon"]
        house_from, house_to = entry["from"], entry["to"]
        streets.append(
            Street(
                name=name,
                spellings=tuple(s for s in spellings if s),
                house_from=house_from if isinstance(house_from, int) else None,
                house_to=house_to if isinstance(house_to, int) else None,
                lat=street_lat if isinstance(street_lat, float) else None,
                lon=street_lon if isinstance(street_lon, float) else None,
                houses=tuple(sorted(houses, key=lambda h: h.number)),
            )
        )
    return tuple(streets)


def example_register_text() -> str:
    return (resources.files("gateway") / "defaults" / EXAMPLE_REGISTER).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[Street, ...]:
    return parse_register(Path(path).read_text(encoding="utf-8-sig"))


def load_register(path: Path | None) -> tuple[Street, ...]:
    """The register at `path` (re-read when the file changes), or the shipped example when None."""
    if path is None:
        return _example()
    try:
        return _load(str(path), path.stat().st_mtime)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        log.error("street register %s unreadable (%s): addresses are not recognised", path, exc)
        return ()


@functools.cache
def _example() -> tuple[Street, ...]:
    log.warning(
        "using the example street register (a sample town): set [streets] register_csv to the municipality's"
        " export"
    )
    return parse_register(example_register_text())
