"""Managers' report page `/reports` (period selector, per utility and per category, print-ready) and
its CSV exports; read-only, for the admin, operator and manager roles."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from gateway.api.deps import GW
from gateway.reports import (
    Period,
    Report,
    ReportCache,
    month_period,
    parse_period,
    quarter_period,
    table_csv,
    ticket_lines,
    tickets_csv,
)
from gateway.web.render import R, WebReader
from storage.db import session_scope

router = APIRouter(include_in_schema=False)

# key: (sr, en); the staff UI's own strings live in gateway.web.i18n.
WORDS: dict[str, tuple[str, str]] = {
    "reports": ("Izveštaji", "Reports"),
    "period": ("Period", "Period"),
    "month": ("Mesec", "Month"),
    "quarter": ("Kvartal", "Quarter"),
    "from": ("Od", "From"),
    "to": ("Do", "To"),
    "show": ("Prikaži", "Show"),
    "last_month": ("Prošli mesec", "Last month"),
    "this_month": ("Ovaj mesec", "This month"),
    "last_quarter": ("Prošli kvartal", "Last quarter"),
    "per_utility": ("Po službama", "Per utility"),
    "per_category": ("Po vrstama problema", "Per category"),
    "utility": ("Služba", "Utility"),
    "category": ("Vrsta problema", "Category"),
    "received": ("Primljeno", "Received"),
    "validated": ("Prihvaćeno", "Validated"),
    "forwarded": ("Van nadležnosti", "Forwarded"),
    "r24": ("Rešeno ≤\u00a024\u00a0h", "Resolved ≤\u00a024\u00a0h"),
    "r48": ("Rešeno ≤\u00a048\u00a0h", "Resolved ≤\u00a048\u00a0h"),
    "overdue": ("Kasni sada", "Overdue now"),
    "med_val": ("Medijana do prihvatanja (h)", "Median to validation (h)"),
    "med_res": ("Medijana do rešenja (h)", "Median to resolution (h)"),
    "reopened": ("Ponovo otvoreno", "Reopened"),
    "total": ("Ukupno", "Total"),
    "csv_table": ("CSV tabele", "Table as CSV"),
    "csv_tickets": ("CSV prijava", "Tickets as CSV"),
    "print": ("Za štampu: Ctrl+P", "To print: Ctrl+P"),
    "working_time": (
        "Vremena su u radnim satima, kako ih računa rok (bez vikenda i praznika). Brojevi se odnose na "
        "prijave primljene u periodu.",
        "Times are working hours as the deadline counts them (no weekends or holidays). Figures are about "
        "the reports received in the period.",
    ),
    "received_chart": ("Primljeno po službama", "Received per utility"),
    "nothing": ("Nema prijava u ovom periodu.", "No reports in this period."),
}


def _report(request: Request, gw: Any, period: Period) -> Report:
    cache: ReportCache | None = getattr(request.app.state, "report_cache", None)
    if cache is None:
        cache = request.app.state.report_cache = ReportCache(gw.clock)
    with session_scope(gw.engine) as s:
        return cache.get(s, gw, period)


def _period(gw: Any, month: str, quarter: str, start: str, end: str) -> Period:
    today = gw.clock().astimezone(gw.calendar.tz).date()
    return parse_period(today, month, quarter, start, end)


def _shortcuts(today: date) -> dict[str, str]:
    last = today.replace(day=1) - timedelta(days=1)
    q = (today.month - 1) // 3 + 1
    lq = quarter_period(today.year, q - 1) if q > 1 else quarter_period(today.year - 1, 4)
    return {
        "last_month": f"month={month_period(last.year, last.month).label}",
        "this_month": f"month={month_period(today.year, today.month).label}",
        "last_quarter": f"quarter={lq.label}",
    }


def _names(gw: Any) -> dict[str, dict[str, str]]:
    return {
        "utility": {"": "(još nije upućeno službi)", **{u.code: u.name for u in gw.config.utilities}},
        "category": {"": "(još nije razvrstano)", **{c.code: c.name for c in gw.config.categories}},
        "total": {"": "Ukupno"},
    }


def _query(period: Period) -> str:
    if period.kind == "month":
        return f"month={period.label}"
    if period.kind == "quarter":
        return f"quarter={period.label}"
    return f"from={period.first.isoformat()}&to={period.last.isoformat()}"


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    who: WebReader,
    r: R,
    gw: GW,
    month: str = "",
    quarter: str = "",
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
) -> HTMLResponse:
    period = _period(gw, month, quarter, start, end)

    report = await asyncio.to_thread(_report, request, gw, period)
    today = gw.clock().astimezone(gw.calendar.tz).date()
    peak = max([1, *(row.received for row in report.by_utility)])
    return r.page(
        request,
        "reports.html",
        rep=report,
        words=WORDS,
        names=_names(gw),
        query=_query(period),
        shortcuts=_shortcuts(today),
        peak=peak,
    )


@router.get("/reports/table.csv")
async def table_csv_export(
    request: Request,
    who: WebReader,
    gw: GW,
    month: str = "",
    quarter: str = "",
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
) -> Response:
    period = _period(gw, month, quarter, start, end)
    names = _names(gw)

    def run() -> str:
        report = _report(request, gw, period)
        return table_csv(report, lambda grouping, code: names[grouping].get(code, code))

    return _csv(await asyncio.to_thread(run), f"sistem48-{period.label}-tabela.csv")


@router.get("/reports/tickets.csv")
async def tickets_csv_export(
    who: WebReader,
    gw: GW,
    month: str = "",
    quarter: str = "",
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
) -> Response:
    period = _period(gw, month, quarter, start, end)

    def chunks() -> Iterator[str]:
        # Streamed from the cursor: a month of rows is never held in memory, the first bytes leave
        # at once. Where the problem is may name the reporter's own home: operators only.
        yield "\ufeff"
        with session_scope(gw.engine) as s:
            yield from tickets_csv(ticket_lines(s, gw, period), gw.calendar.tz, with_location=who.sees_pii)

    return StreamingResponse(
        chunks(), media_type=CSV_TYPE, headers=_csv_headers(f"sistem48-{period.label}-prijave.csv")
    )


CSV_TYPE = "text/csv; charset=utf-8"


def _csv_headers(filename: str) -> dict[str, str]:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in filename)
    return {"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"}


def _csv(text: str, filename: str) -> Response:
    # the BOM makes Excel read UTF-8 (Serbian letters) correctly
    return Response("\ufeff" + text, media_type=CSV_TYPE, headers=_csv_headers(filename))
