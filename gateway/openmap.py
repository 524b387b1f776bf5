"""The map of open reports: the open tickets that have coordinates (narrowed like the inbox: queue,
category, utility) and where each falls on a server-rendered grid of slippy-map (OSM scheme) tiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gateway.queues import apply_queue
from gateway.ticket_states import Status
from storage.models import Ticket

TILE = 256
OPEN = (Status.RECEIVED, Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)
MAX_ZOOM = 17  # street level; closer shows no more on a city map
MAX_SIDE = 4  # tiles each way: a 1024 px box at most, 16 tile requests


@dataclass(frozen=True, slots=True)
class Point:
    reference: str
    category: str | None
    status: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PlacedTile:
    url: str
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Marker:
    point: Point
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class TileMap:
    zoom: int
    width: int
    height: int
    tiles: list[PlacedTile]
    markers: list[Marker]


def world_px(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web Mercator: the point's pixel in the whole world at `zoom` (256 px tiles)."""
    n = TILE * 2**zoom
    lat = max(min(lat, 85.0511), -85.0511)
    rad = math.radians(lat)
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n
    return x, y


def layout(points: Sequence[Point], template: str, *, max_side: int = MAX_SIDE) -> TileMap | None:
    """The closest zoom at which every point fits in `max_side` × `max_side` tiles, those tiles and
    each point's pixel inside the box; None without points."""
    if not points:
        return None
    for zoom in range(MAX_ZOOM, -1, -1):
        xy = [world_px(p.lat, p.lon, zoom) for p in points]
        # A margin of a marker's size, so a point on the edge still shows whole.
        tx0, tx1 = int((min(x for x, _ in xy) - 12) // TILE), int((max(x for x, _ in xy) + 12) // TILE)
        ty0, ty1 = int((min(y for _, y in xy) - 24) // TILE), int((max(y for _, y in xy) + 4) // TILE)
        if tx1 - tx0 < max_side and ty1 - ty0 < max_side:
            break
    last = 2**zoom - 1
    tx0, ty0 = max(tx0, 0), max(ty0, 0)
    tx1, ty1 = min(tx1, last), min(ty1, last)
    tiles = [
        PlacedTile(
            template.replace("{s}", "a").format(z=zoom, x=tx, y=ty), (tx - tx0) * TILE, (ty - ty0) * TILE
        )
        for ty in range(ty0, ty1 + 1)
        for tx in range(tx0, tx1 + 1)
    ]
    markers = [Marker(p, x - tx0 * TILE, y - ty0 * TILE) for p, (x, y) in zip(points, xy, strict=True)]
    return TileMap(zoom, (tx1 - tx0 + 1) * TILE, (ty1 - ty0 + 1) * TILE, tiles, markers)


def open_points(
    session: Session,
    *,
    now: datetime,
    tz: ZoneInfo,
    queue: str | None = None,
    category: str | None = None,
    utility: str | None = None,
    limit: int = 500,
) -> list[Point]:
    """Open tickets with coordinates, newest first, narrowed like the inbox."""
    query = select(Ticket).where(
        col(Ticket.status).in_([s.value for s in OPEN]),
        col(Ticket.lat).is_not(None),
        col(Ticket.lon).is_not(None),
    )
    if queue:
        query = apply_queue(query, queue, now, tz)
    if category:
        # As the inbox shows it: the category, or the suggestion while none is set.
        suggested = sa.and_(col(Ticket.category).is_(None), col(Ticket.suggested_category) == category)
        query = query.where(sa.or_(col(Ticket.category) == category, suggested))
    if utility:
        query = query.where(Ticket.utility == utility)
    rows = session.exec(query.order_by(col(Ticket.created_at).desc()).limit(limit)).all()
    return [
        Point(t.reference, t.category or t.suggested_category, t.status, float(t.lat), float(t.lon))
        for t in rows
        if t.lat is not None and t.lon is not None
    ]
