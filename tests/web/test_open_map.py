"""The map of open reports: tile arithmetic against known OSM tiles, and in headless Chromium a page
whose tiles come from a local tile server (a PNG made with Pillow) with one marker per open ticket
that has coordinates, links to the tickets, the inbox's filters, and no map when no tiles are set;
the ticket page's small map drawn by the server for a browser without JavaScript."""

from __future__ import annotations

import io
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from gateway.app import build_gateway, create_app
from gateway.openmap import Point, layout, world_px
from gateway.web.citizen_pages import _tile
from tests.conftest import Clock
from tests.core.helpers import sms
from tests.web.conftest import add_staff, web_config
from tests.web.test_browser import FLAGS, login
from tests.web.test_web_http import client
from tests.web.test_web_http import login as http_login

__all__ = ["client"]


def test_tiles_follow_the_osm_scheme_and_every_marker_falls_inside_the_box() -> None:
    assert world_px(0.0, 0.0, 1) == (256.0, 256.0)  # the world's centre: the corner of four tiles
    assert world_px(85.0511, -180.0, 3)[1] == pytest.approx(0.0, abs=0.01)  # the top-left corner
    x, y = world_px(45.25575, 19.84470, 17)  # Njegoševa, Novi Sad: the citizen page's tile too
    url, fx, _ = _tile("{z}/{x}/{y}", 45.25575, 19.84470)
    assert url == f"17/{int(x // 256)}/{int(y // 256)}" and fx == pytest.approx(x / 256 % 1)
    points = [
        Point("S48-1", None, "open", 45.25575, 19.84470),
        Point("S48-2", None, "open", 45.2450, 19.8200),
    ]
    tm = layout(points, "http://t/{z}/{x}/{y}.png")
    assert tm is not None and tm.zoom < 17 and len(tm.tiles) <= 16
    assert all(0 <= m.x <= tm.width and 0 <= m.y <= tm.height for m in tm.markers)
    one = layout(points[:1], "http://t/{z}/{x}/{y}.png")
    assert one is not None and one.zoom == 17 and one.tiles[0].url.startswith("http://t/17/")
    assert layout([], "http://t/{z}/{x}/{y}.png") is None


class Tiles:
    def __init__(self) -> None:
        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (200, 220, 200)).save(buf, "PNG")
        self.png = buf.getvalue()
        self.paths: list[str] = []
        tiles = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tiles.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(tiles.png)))
                self.end_headers()
                self.wfile.write(tiles.png)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def mapsite(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    tiles = Tiles()
    tmp = tmp_path_factory.mktemp("map")
    db = tmp / "sistem48.db"
    shutil.copy(sqlite_template, db)
    clock = Clock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    gw = build_gateway(
        web_config(tmp, f"sqlite:///{db}", http__map_tiles_url=tiles.url), clock=clock, roles=set()
    )
    add_staff(gw)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(gw.config, gateway=gw), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        yield type("MapSite", (), {"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "gw": gw,
                                   "browser": browser, "tiles": tiles})  # fmt: skip
        browser.close()
    server.should_exit = True
    thread.join(10)
    tiles.server.shutdown()
    gw.engine.dispose()


def test_the_map_shows_a_marker_per_open_ticket_on_local_tiles(mapsite: Any, tmp_path: Path) -> None:
    gw = mapsite.gw
    lamp = gw.inbox.ingest_sync(sms(gw, "+381641000011", "Ne radi sijalica, Njegoševa 5")).reference
    pipe = gw.inbox.ingest_sync(sms(gw, "+381641000012", "Pukla cev u Dunavskoj 10")).reference
    nowhere = gw.inbox.ingest_sync(sms(gw, "+381641000013", "Ne radi sijalica kod mene")).reference
    context = mapsite.browser.new_context(viewport={"width": 1280, "height": 1000})
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    login(mapsite, page, "operater")
    page.click("nav >> text=Mapa")
    page.wait_for_selector("#open-map", state="attached")
    box = page.locator("#open-map").bounding_box()
    assert box is not None and box["width"] >= 256 and box["height"] >= 256
    page.wait_for_load_state("networkidle")
    refs = page.eval_on_selector_all("#open-map a.marker", "els => els.map(e => e.getAttribute('href'))")
    assert (
        sorted(refs) == sorted([f"/tickets/{lamp}", f"/tickets/{pipe}"]) and f"/tickets/{nowhere}" not in refs
    )
    assert mapsite.tiles.paths and all(
        p.endswith(".png") for p in mapsite.tiles.paths
    )  # drawn from local tiles
    shots = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    page.screenshot(
        path=str(shots / "open_map.png") if shots.is_dir() else str(tmp_path / "map.png"), full_page=True
    )
    page.select_option("#map-filters select[name=category]", "javna_rasveta")
    page.click("#map-filters button[type=submit]")
    page.wait_for_selector("#open-map", state="attached")
    refs = page.eval_on_selector_all("#open-map a.marker", "els => els.map(e => e.getAttribute('href'))")
    assert refs == [f"/tickets/{lamp}"]
    page.click("#open-map a.marker")
    page.wait_for_url(f"**/tickets/{lamp}")
    assert problems == []  # the tiles pass the CSP: no blocked image
    context.close()


def test_no_tiles_no_map_and_the_queue_filter_narrows_the_markers(client: Any, gw: Any) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, "+381641000021", "Ne radi sijalica, Njegoševa 5")).reference
    http_login(client, "operater")
    page = client.get("/map")
    assert page.status_code == 200 and "Mapa nije podešena" in page.text and "<svg" not in page.text
    gw.config.http.map_tiles_url = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    page = client.get("/map")
    assert f'href="/tickets/{ref}"' in page.text and 'href="http://127.0.0.1:9/17/' in page.text
    assert f'href="/tickets/{ref}"' not in client.get("/map?queue=callback").text
    assert f'href="/tickets/{ref}"' not in client.get("/map?utility=vodovod").text
    assert client.get("/map?queue=nonsense&category=%3Cb%3E").status_code == 200
    ticket = client.get(f"/tickets/{ref}").text  # the small map, drawn by the server without JavaScript
    assert re.search(r'<noscript><figure class="tilemap">\s*<svg id="ticket-map"', ticket)
    assert 'href="http://127.0.0.1:9/17/' in ticket and f'<a class="marker" href="/tickets/{ref}"' in ticket
