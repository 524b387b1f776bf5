"""Per-client SMTP limits: connections per minute and messages per hour for each client address
(moving windows from the `limits` library), with the configured relays exempt."""

from __future__ import annotations

import ipaddress

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mail.settings import MailSettings


class ClientLimits:
    def __init__(self, settings: MailSettings) -> None:
        self._trusted = [ipaddress.ip_network(net, strict=False) for net in settings.trusted_relays]
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        per_minute, per_hour = settings.connections_per_minute, settings.messages_per_hour
        self._connections = RateLimitItemPerMinute(per_minute) if per_minute else None
        self._messages = RateLimitItemPerHour(per_hour) if per_hour else None

    def trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self._trusted)

    def connection_allowed(self, ip: str) -> bool:
        return self._connections is None or self.trusted(ip) or self._limiter.hit(self._connections, "c", ip)

    def message_allowed(self, ip: str) -> bool:
        return self._messages is None or self.trusted(ip) or self._limiter.hit(self._messages, "m", ip)
