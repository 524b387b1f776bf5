"""The HTTP server of `sistem48 run`: uvicorn, believing X-Forwarded-For and X-Forwarded-Proto only
when they come from the configured reverse proxy, so per-client limits key on the real citizen."""

from __future__ import annotations

from typing import Any

import uvicorn

from gateway.config import Config


def http_server(config: Config, app: Any) -> uvicorn.Server:
    proxies = config.http.trusted_proxies
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.http.host,
            port=config.http.port,
            log_level="info",
            access_log=False,
            # Without proxies, the headers are ignored: a client could otherwise name any address.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=list(proxies) if proxies else None,
        )
    )
