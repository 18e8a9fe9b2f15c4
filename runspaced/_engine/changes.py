"""Fan-out of runspace changes to `RunspaceEngine.changes()` subscribers."""

from __future__ import annotations

from collections import deque
from types import TracebackType

import anyio
import structlog

from .._errors import RunspaceError
from .._types import RunspaceChange

__all__ = ["ChangeHub", "ChangeStream"]

log = structlog.get_logger("runspaced.engine")


class ChangeStream:
    """Async iterator over every change published after it was opened.

    Iteration ends when the engine closes. A consumer that falls more than `maxlen`
    changes behind gets `RunspaceError` with reason ChangesOverflow instead of a
    silent gap. Use ``async with`` or `aclose()` to unsubscribe early.
    """

    def __init__(self, hub: ChangeHub, maxlen: int) -> None:
        self._hub = hub
        self._queue: deque[RunspaceChange] = deque()
        self._maxlen = maxlen
        self._ready = anyio.Event()
        self._closed = False
        self.overflowed = False

    def _push(self, change: RunspaceChange) -> None:
        if self._closed or self.overflowed:
            return
        if len(self._queue) >= self._maxlen:
            self.overflowed = True
            log.warning("changes.overflowed", maxlen=self._maxlen)
        else:
            self._queue.append(change)
        self._ready.set()

    def _end(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> RunspaceChange:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self.overflowed:
                self.close()
                raise RunspaceError(
                    None,
                    "ChangesOverflow",
                    f"the consumer fell more than {self._maxlen} changes behind; "
                    "reread engine.list() and subscribe again",
                )
            if self._closed:
                raise StopAsyncIteration
            self._ready = anyio.Event()
            await self._ready.wait()

    def close(self) -> None:
        """Unsubscribe; pending changes are dropped."""
        self._closed = True
        self._queue.clear()
        self._hub.discard(self)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> ChangeStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ChangeHub:
    """The set of open `ChangeStream`s and the change sequence number."""

    def __init__(self, maxlen: int) -> None:
        self._streams: set[ChangeStream] = set()
        self._maxlen = maxlen
        self.sequence = 0
        self.closed = False

    @property
    def has_subscribers(self) -> bool:
        return bool(self._streams)

    def open(self) -> ChangeStream:
        stream = ChangeStream(self, self._maxlen)
        if self.closed:
            stream._end()
        else:
            self._streams.add(stream)
        return stream

    def discard(self, stream: ChangeStream) -> None:
        self._streams.discard(stream)

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def publish(self, change: RunspaceChange) -> None:
        for stream in self._streams:
            stream._push(change)

    def close(self) -> None:
        self.closed = True
        for stream in list(self._streams):
            stream._end()
        self._streams.clear()
