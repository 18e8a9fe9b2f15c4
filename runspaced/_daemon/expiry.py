"""Deletion of runspaces whose ``ttl_seconds`` passed.

Expiries are kept in a heap ordered by time, and one task sleeps until the earliest one.
Each expiry is also written on the pod (label ``runspaced.dev/expires-at``, Unix seconds),
so a restarted daemon calls `recover` after the engine's first list and schedules the
runspaces it adopted. An expiry that is already past on recovery deletes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from datetime import UTC, datetime

import structlog

from .._engine import RunspaceEngine
from .._types import RunspaceState
from .metrics import DaemonMetrics
from .profiles import EXPIRES_AT_LABEL

__all__ = ["ExpiryReaper"]

log = structlog.get_logger("runspaced.daemon")

_RETRY_SECONDS = 5.0
_SKIP_STATES = (RunspaceState.TERMINATING, RunspaceState.DELETED)


class ExpiryReaper:
    """Delete each scheduled runspace once its expiry time (aware UTC) has passed."""

    def __init__(self, engine: RunspaceEngine, metrics: DaemonMetrics) -> None:
        self._engine = engine
        self._metrics = metrics
        self._heap: list[tuple[float, str]] = []
        self._wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, runspace_id: str, expires_at: datetime) -> None:
        """Delete `runspace_id` at `expires_at`; scheduling an id twice keeps both times."""
        heapq.heappush(self._heap, (expires_at.timestamp(), runspace_id))
        self._wakeup.set()

    def recover(self) -> int:
        """Schedule every known runspace that carries an expiry label; return how many."""
        count = 0
        for info in self._engine.list():
            text = info.labels.get(EXPIRES_AT_LABEL)
            if text is None or not text.isdigit() or info.state in _SKIP_STATES:
                continue
            self.schedule(info.id, datetime.fromtimestamp(int(text), tz=UTC))
            count += 1
        if count:
            log.info("ttl.recovered", runspaces=count)
        return count

    async def run(self) -> None:
        """Delete runspaces as they expire, until cancelled."""
        while True:
            self._wakeup.clear()
            now = datetime.now(UTC).timestamp()
            if self._heap and self._heap[0][0] <= now:
                _, runspace_id = heapq.heappop(self._heap)
                await self._expire(runspace_id)
                continue

            # Sleep until the earliest expiry, or until a new one is scheduled.
            timeout = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _expire(self, runspace_id: str) -> None:
        info = self._engine.get(runspace_id)
        if info is None or info.state in _SKIP_STATES:
            return
        try:
            await self._engine.delete(runspace_id)
        except Exception as exc:
            # The pod would outlive its TTL: try again shortly rather than give up.
            self._metrics.expiration_failures += 1
            retry_at = datetime.now(UTC).timestamp() + _RETRY_SECONDS
            heapq.heappush(self._heap, (retry_at, runspace_id))
            log.warning(
                "ttl.delete_failed",
                runspace_id=runspace_id,
                error=str(exc),
                retry_in_s=_RETRY_SECONDS,
            )
            return
        self._metrics.expirations += 1
        log.info("runspace.expired", runspace_id=runspace_id, state=info.state.value)
