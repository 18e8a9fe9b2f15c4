"""Everything one running daemon shares between its routes and background tasks.

`DaemonContext` holds the engine, the configuration, the SSE `EventHub`, the metrics and
the TTL reaper. `run` (the app's lifespan) enters the engine, feeds engine changes into
the hub and runs the reaper; leaving it closes the hub and the engine. `begin_shutdown`
is called when SIGTERM arrives, before the HTTP server drains: waits answer at once with
the current state and event streams end, so in-flight requests finish within the drain
deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from .._engine import RunspaceEngine
from .._errors import RunspaceError
from .._types import RunspaceChange
from .config import DaemonConfig
from .expiry import ExpiryReaper
from .metrics import DaemonMetrics
from .sse import EventHub

__all__ = ["DaemonContext"]

log = structlog.get_logger("runspaced.daemon")


class DaemonContext:
    """Shared state of one daemon: engine, config, event hub, metrics, reaper."""

    def __init__(self, engine: RunspaceEngine, config: DaemonConfig) -> None:
        self.engine = engine
        self.config = config
        self.metrics = DaemonMetrics()
        self.hub = EventHub(config.event_buffer, keepalive_seconds=config.keepalive_seconds)
        self.reaper = ExpiryReaper(engine, self.metrics)
        self.shutdown = asyncio.Event()
        self.pending_creates = 0
        self.started = False

    def __repr__(self) -> str:
        return f"<DaemonContext listen={self.config.listen} {self.engine!r} {self.hub!r}>"

    def begin_shutdown(self) -> None:
        """Make waits return and event streams end; safe to call more than once."""
        if not self.shutdown.is_set():
            log.info("daemon.shutdown_started")
        self.shutdown.set()
        self.hub.close()

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Enter the engine and run the background tasks for the duration of the block."""
        async with self.engine:
            # Subscribe before any request can create a runspace, so no change is missed.
            stream = self.engine.changes()
            tasks = [
                asyncio.create_task(self._pump(stream), name="runspaced daemon event pump"),
                asyncio.create_task(self._reap(), name="runspaced daemon ttl reaper"),
            ]
            self.started = True
            try:
                yield
            finally:
                self.begin_shutdown()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await stream.aclose()

    async def _pump(self, stream: AsyncIterator[RunspaceChange]) -> None:
        # The engine's stream raises ChangesOverflow when this task fell behind; the hub
        # then tells every client to resync, and a new subscription takes over.
        current = stream
        while True:
            try:
                async for change in current:
                    self.hub.publish(change)
                return
            except RunspaceError as exc:
                log.warning("events.overflowed", error=str(exc))
                self.hub.publish_gap("the daemon fell behind the engine's changes")
                current = self.engine.changes()

    async def _reap(self) -> None:
        await self.engine.wait_synced()
        self.reaper.recover()
        await self.reaper.run()
