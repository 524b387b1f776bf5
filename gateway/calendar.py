"""Working time: business hours, Serbian public holidays (Orthodox Easter included), SLA deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

from gateway.config import BusinessHoursSettings, SlaSettings


class HoursKind(StrEnum):
    BUSINESS = "business"
    AFTER_HOURS = "after_hours"
    HOLIDAY = "holiday"


class WorkingCalendar:
    def __init__(self, hours: BusinessHoursSettings, sla: SlaSettings, tz: ZoneInfo) -> None:
        self.tz = tz
        self.sla_clock = sla.clock
        self._spans = hours.spans()
        self._country = hours.holidays_country
        self._extra = {date.fromisoformat(d) for d in hours.extra_holidays}
        self._working_override = {date.fromisoformat(d) for d in hours.extra_working_days}
        self._holidays: holidays.HolidayBase = holidays.country_holidays(self._country)

    def holiday_name(self, day: date) -> str | None:
        if day in self._working_override:
            return None
        if day in self._extra:
            return "municipal holiday"
        name = self._holidays.get(day)
        return str(name) if name else None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self._spans and self.holiday_name(day) is None

    def business_span(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing time of a working day, aware; None on weekends and holidays."""
        if not self.is_working_day(day):
            return None
        start, end = self._spans[day.weekday()]
        return datetime.combine(day, start, self.tz), datetime.combine(day, end, self.tz)

    def night_before(self, day: date) -> tuple[datetime, datetime] | None:
        """From the previous working day's closing to `day`'s opening: the after-hours window whose
        voicemails the morning review of `day` starts with. None when `day` is not a working day."""
        today = self.business_span(day)
        if today is None:
            return None
        previous = day - timedelta(days=1)
        for _ in range(60):
            span = self.business_span(previous)
            if span is not None:
                return span[1], today[0]
            previous -= timedelta(days=1)
        return today[0] - timedelta(days=1), today[0]

    def hours_kind(self, at: datetime) -> HoursKind:
        local = at.astimezone(self.tz)
        if self.holiday_name(local.date()) is not None:
            return HoursKind.HOLIDAY
        span = self._spans.get(local.weekday())
        if span and span[0] <= local.time() < span[1]:
            return HoursKind.BUSINESS
        return HoursKind.AFTER_HOURS

    def counting_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The parts of a local day during which the SLA clock runs (for reports over many tickets)."""
        return self._counting_windows(day)

    def _counting_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The parts of a local day during which the SLA clock runs, as aware datetimes."""
        if not self.is_working_day(day):
            return []
        if self.sla_clock == "working_days":
            start = datetime.combine(day, time(0), self.tz)
            end = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        else:
            s, e = self._spans[day.weekday()]
            start, end = datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz)
        return [(start.astimezone(UTC), end.astimezone(UTC))]

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of counting time after `start` (the SLA deadline)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        remaining = timedelta(hours=hours)
        day = start.astimezone(self.tz).date()
        cursor = start.astimezone(UTC)
        for _ in range(3660):  # ten years of days: a calendar with no working day is a config error
            for win_start, win_end in self._counting_windows(day):
                begin = max(cursor, win_start)
                if begin >= win_end:
                    continue
                available = win_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years: check business_hours")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Counting time elapsed between a and b (for paused clocks and response-time reports)."""
        if b <= a:
            return timedelta(0)
        total = timedelta(0)
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        while day <= last:
            for win_start, win_end in self._counting_windows(day):
                lo, hi = max(a, win_start), min(b, win_end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total
