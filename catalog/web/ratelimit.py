"""Failed logins, counted per user name and per client address, in memory.

After `per_user` failures for one name, or `per_address` from one address, within `window`
seconds, logins for it are refused until the oldest failure leaves the window — without
checking the password, so a guesser learns nothing more. A success clears the name's count.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 10_000  # names and addresses remembered at once; the oldest are forgotten first


class LoginLimiter:
    def __init__(self, *, per_user: int = 5, per_address: int = 20, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic):
        self.per_user, self.per_address, self.window = per_user, per_address, window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, user: str, address: str) -> int:
        """Seconds until a login for `user` from `address` is accepted again (0: now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key, limit in ((("user", user.lower()), self.per_user),
                               (("address", address), self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("user", user.lower()), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(("user", user.lower()), None)
