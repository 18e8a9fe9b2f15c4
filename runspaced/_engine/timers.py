"""A single timer queue for runspace deadlines and cache expiry."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable

import anyio

__all__ = ["TimerQueue"]


class TimerQueue:
    """Call `callback(key)` at monotonic times, from one task for any number of timers.

    Timers cannot be cancelled: the callback re-checks whether its key is still due,
    which keeps scheduling O(log n) and the callback the single source of truth.
    """

    def __init__(self, callback: Callable[[str, str], None]) -> None:
        self._heap: list[tuple[float, int, str, str]] = []
        self._counter = itertools.count()
        self._callback = callback
        self._wake = anyio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, when: float, kind: str, key: str) -> None:
        """Call the callback with `(kind, key)` at monotonic time `when` or soon after."""
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (when, next(self._counter), kind, key))
        if earliest is None or when < earliest:
            self._wake.set()

    async def run(self) -> None:
        """Fire due timers until cancelled."""
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, kind, key = heapq.heappop(self._heap)
                self._callback(kind, key)
            delay = self._heap[0][0] - now if self._heap else None
            self._wake = anyio.Event()
            if delay is None:
                await self._wake.wait()
            else:
                with anyio.move_on_after(delay):
                    await self._wake.wait()
