"""Working-time deadlines (weekends, Orthodox Easter) and category routing in all three spellings."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.calendar import HoursKind, WorkingCalendar
from gateway.config import BusinessHoursSettings, SlaSettings, load_config
from gateway.routing import Router

BG = ZoneInfo("Europe/Belgrade")


def _cal(clock: str = "working_days") -> WorkingCalendar:
    return WorkingCalendar(BusinessHoursSettings(), SlaSettings(clock=clock), BG)  # type: ignore[arg-type]


def test_deadline_skips_the_weekend() -> None:
    friday_2pm = datetime(2026, 11, 27, 14, 0, tzinfo=BG)
    assert _cal().add_working_hours(friday_2pm, 24) == datetime(2026, 11, 30, 14, 0, tzinfo=BG)
    assert _cal().add_working_hours(friday_2pm, 48) == datetime(2026, 12, 1, 14, 0, tzinfo=BG)


def test_report_on_saturday_starts_counting_on_monday() -> None:
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=BG)
    assert _cal().add_working_hours(saturday, 24) == datetime(2026, 12, 1, 0, 0, tzinfo=BG)


def test_deadline_skips_orthodox_easter() -> None:
    # Orthodox Easter 2026 is 12 April: Good Friday 10th through Easter Monday 13th are holidays.
    thursday = datetime(2026, 4, 9, 10, 0, tzinfo=BG)
    assert _cal().add_working_hours(thursday, 24) == datetime(2026, 4, 14, 10, 0, tzinfo=BG)


def test_orthodox_not_western_easter_is_the_holiday() -> None:
    cal = _cal()
    assert cal.holiday_name(datetime(2026, 4, 13).date()) is not None  # Orthodox Easter Monday
    assert cal.holiday_name(datetime(2026, 4, 6).date()) is None  # Western Easter Monday


def test_business_hours_clock_counts_only_office_hours() -> None:
    friday_2pm = datetime(2026, 11, 27, 14, 0, tzinfo=BG)
    # 1.5 h left on Friday (until 15:30), 6.5 h on Monday from 07:30 → 14:00.
    assert _cal("business_hours").add_working_hours(friday_2pm, 8) == datetime(2026, 11, 30, 14, 0, tzinfo=BG)


def test_deadline_across_the_dst_change_is_in_wall_clock_hours() -> None:
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=BG)  # clocks go forward on Sunday 29 March
    assert _cal().add_working_hours(saturday, 24) == datetime(2026, 3, 31, 0, 0, tzinfo=BG)


@pytest.mark.parametrize(
    ("when", "kind"),
    [
        (datetime(2026, 11, 24, 10, 0, tzinfo=BG), HoursKind.BUSINESS),
        (datetime(2026, 11, 24, 15, 30, tzinfo=BG), HoursKind.AFTER_HOURS),
        (datetime(2026, 11, 24, 7, 29, tzinfo=BG), HoursKind.AFTER_HOURS),
        (datetime(2026, 11, 28, 10, 0, tzinfo=BG), HoursKind.AFTER_HOURS),
        (datetime(2026, 11, 11, 10, 0, tzinfo=BG), HoursKind.HOLIDAY),  # Armistice Day
        (datetime(2026, 1, 7, 10, 0, tzinfo=BG), HoursKind.HOLIDAY),  # Orthodox Christmas
    ],
)
def test_hours_kind_follows_business_hours_and_holidays(when: datetime, kind: HoursKind) -> None:
    assert _cal().hours_kind(when.astimezone(UTC)) == kind


def test_working_time_between_excludes_weekend() -> None:
    cal = _cal()
    friday = datetime(2026, 11, 27, 12, 0, tzinfo=BG)
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=BG)
    assert cal.working_time_between(friday, monday).total_seconds() == 24 * 3600


@pytest.mark.parametrize(
    "text",
    [
        "Ne radi sijalica u Ulici Nemanjinoj",  # Latin with diacritics
        "Не ради сијалица у Улици Немањиној",  # Cyrillic
        "ne radi sijalica u ulici nemanjinoj",  # Latin without diacritics
    ],
)
def test_street_light_is_recognised_in_all_three_spellings(text: str) -> None:
    assert Router(load_config(None)).suggest(text) == "javna_rasveta"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Ђубре није одвезено већ недељу дана", "smece"),
        ("Djubre nije odvezeno vec nedelju dana", "smece"),
        ("Đubre nije odvezeno već nedelju dana", "smece"),
        ("Nedostaje poklopac šahta ispred zgrade", "poklopac_sahta"),
        ("Nedostaje poklopac sahta ispred zgrade", "poklopac_sahta"),
        ("Недостаје поклопац шахта испред зграде", "poklopac_sahta"),
        ("Pukla cev, voda curi na ulicu", "vodovod_kvar"),
        ("Kafić je zauzeo trotoar baštom", "zauzece_povrsine"),
        ("Велика рупа на коловозу", "udarna_rupa"),
    ],
)
def test_categories_match_in_any_script(text: str, category: str) -> None:
    assert Router(load_config(None)).suggest(text) == category


def test_text_without_keywords_gets_no_suggestion() -> None:
    assert Router(load_config(None)).suggest("Dobar dan, imam pitanje") is None
