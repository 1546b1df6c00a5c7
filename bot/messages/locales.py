"""Which language each Slack user reads, as Slack last said: asked once per user and kept a while."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

USER_LANGUAGE_TTL = 3600.0  # a user who changes their Slack language sees it within the hour
USER_LANGUAGE_FAILURE_TTL = 60.0  # after a failed users.info, ask again soon rather than on every reply
USER_LANGUAGE_ENTRIES = 10_000
USER_LANGUAGE_LOOKUP_SECONDS = 1.5


class UserLanguages:
    """User id → language, the oldest dropped beyond `size` entries, each forgotten after its TTL."""

    def __init__(self, *, size: int = USER_LANGUAGE_ENTRIES, ttl: float = USER_LANGUAGE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl, self.clock = size, ttl, clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # one runtime may serve several event loops (Socket Mode and HTTP)

    def get(self, user_id: str) -> str | None:
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None:
                return None
            if entry[1] <= self.clock():
                del self._entries[user_id]
                return None
            return entry[0]

    def put(self, user_id: str, lang: str, ttl: float | None = None) -> None:
        with self._lock:
            self._entries.pop(user_id, None)
            self._entries[user_id] = (lang, self.clock() + (self.ttl if ttl is None else ttl))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
