"""Per-client SMTP limits: connections per minute and messages per hour for each client address
(moving windows from the `limits` library, the configured relays exempt), open sessions per address."""

from __future__ import annotations

import ipaddress
from collections import Counter

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


class SessionGate:
    """Caps concurrent sessions per client IP."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        if self.limit > 0 and self.open[ip] >= self.limit:
            return False
        self.open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]
