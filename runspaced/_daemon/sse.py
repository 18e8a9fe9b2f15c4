"""Server-Sent Events: a bounded ring buffer of runspace changes and the streams that read it.

`EventHub.publish` turns each engine `RunspaceChange` into a `HubEvent` with an id
``<boot>-<sequence>``. The boot part is random per daemon process, so an id from an earlier
process is recognised instead of being confused with a current sequence number. Readers
never get their own queue: each stream remembers the last sequence it sent and reads the
ring from there, so a slow client costs no memory. A client that resumes with a
``Last-Event-ID`` older than the ring (or from an earlier process) gets one ``resync``
event, which means: list the runspaces again, then keep reading.

Event types: ``state`` (the state changed), ``phase`` (same state, new phase), ``detail``
(only the latest Kubernetes Event text changed), ``snapshot`` (first event of a
per-runspace stream), ``resync``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from .._types import RunspaceChange, RunspaceInfo, RunspaceState
from .models import runspace_document

__all__ = ["EventHub", "HubEvent", "encode_comment", "encode_event"]


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One event as sent on the wire: `id` is ``<boot>-<sequence>``, `data` is JSON text."""

    id: str | None
    sequence: int
    kind: str
    runspace_id: str | None
    state: str | None
    data: bytes


def encode_event(event: HubEvent) -> bytes:
    """Format `event` as one SSE message (id, event and data lines, blank line)."""
    lines = []
    if event.id is not None:
        lines.append(b"id: " + event.id.encode())
    lines.append(b"event: " + event.kind.encode())
    lines.append(b"data: " + event.data)
    return b"\n".join(lines) + b"\n\n"


def encode_comment(text: str) -> bytes:
    """Format an SSE comment line, which clients ignore (used as keepalive)."""
    return b": " + text.encode() + b"\n\n"


def _change_kind(change: RunspaceChange) -> str | None:
    """Return the SSE event name, or None for a change a client cannot see (node, IP)."""
    previous = change.previous
    info = change.info
    if previous is None or previous.state != info.state:
        return "state"
    if previous.phase != info.phase:
        return "phase"
    if (previous.detail, previous.reason, previous.message) != (
        info.detail,
        info.reason,
        info.message,
    ):
        return "detail"
    return None


class EventHub:
    """Ring buffer of recent runspace changes that SSE streams read and resume from.

    `capacity` is the number of events kept for replay. `keepalive_seconds` is how long a
    stream stays silent before it sends a comment line.
    """

    def __init__(self, capacity: int, keepalive_seconds: float = 15.0) -> None:
        self.boot = secrets.token_hex(4)
        self.keepalive_seconds = keepalive_seconds
        self._ring: deque[HubEvent] = deque(maxlen=capacity)
        self._sequence = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        self.subscribers = 0
        self.published = 0

    def __repr__(self) -> str:
        return (
            f"<EventHub boot={self.boot} sequence={self._sequence} "
            f"buffered={len(self._ring)} subscribers={self.subscribers}>"
        )

    @property
    def last_id(self) -> str:
        """Id of the latest event (``<boot>-0`` before the first one)."""
        return f"{self.boot}-{self._sequence}"

    @property
    def closed(self) -> bool:
        """True once `close` ran: streams end and no event is accepted."""
        return self._closed

    def publish(self, change: RunspaceChange) -> HubEvent | None:
        """Record `change` and wake every stream.

        Returns the event, or None once closed or when nothing a client sees changed.
        """
        if self._closed:
            return None
        kind = _change_kind(change)
        if kind is None:
            return None
        info = change.info
        previous = change.previous
        payload: dict[str, Any] = {
            "runspace_id": info.id,
            "state": info.state.value,
            "phase": info.phase.value,
            "previous_state": None if previous is None else previous.state.value,
            "previous_phase": None if previous is None else previous.phase.value,
            "reason": info.reason,
            "detail": info.detail,
            "runspace": runspace_document(info),
        }
        self._sequence += 1
        event = HubEvent(
            id=f"{self.boot}-{self._sequence}",
            sequence=self._sequence,
            kind=kind,
            runspace_id=info.id,
            state=info.state.value,
            data=orjson.dumps(payload),
        )
        self._ring.append(event)
        self.published += 1
        self._wake()
        return event

    def publish_gap(self, reason: str) -> HubEvent | None:
        """Record a ``resync`` event: changes were lost, so every client must relist."""
        if self._closed:
            return None
        self._sequence += 1
        data = orjson.dumps({"reason": reason, "last_event_id": f"{self.boot}-{self._sequence}"})
        event = HubEvent(
            f"{self.boot}-{self._sequence}", self._sequence, "resync", None, None, data
        )
        self._ring.append(event)
        self.published += 1
        self._wake()
        return event

    def close(self) -> None:
        """End every stream after what it has already read; later publishes are dropped."""
        self._closed = True
        self._wake()

    def snapshot(self, info: RunspaceInfo) -> HubEvent:
        """Build the ``snapshot`` event for `info`, carrying the hub's current id."""
        payload = {
            "runspace_id": info.id,
            "state": info.state.value,
            "phase": info.phase.value,
            "previous_state": None,
            "previous_phase": None,
            "reason": info.reason,
            "detail": info.detail,
            "runspace": runspace_document(info),
        }
        return HubEvent(
            id=self.last_id,
            sequence=self._sequence,
            kind="snapshot",
            runspace_id=info.id,
            state=info.state.value,
            data=orjson.dumps(payload),
        )

    def _wake(self) -> None:
        # Replace the event before setting the old one, so a woken reader that waits
        # again waits for the next publish, not the one that woke it.
        wakeup, self._wakeup = self._wakeup, asyncio.Event()
        wakeup.set()

    def _resync(self, reason: str) -> HubEvent:
        data = orjson.dumps({"reason": reason, "last_event_id": self.last_id})
        return HubEvent(self.last_id, self._sequence, "resync", None, None, data)

    def _start(self, last_event_id: str | None) -> tuple[int, HubEvent | None]:
        """Return the sequence to read after, and a resync event when replay is impossible."""
        if last_event_id is None:
            return self._sequence, None
        boot, _, sequence_text = last_event_id.strip().rpartition("-")
        if boot != self.boot or not sequence_text.isdigit():
            return self._sequence, self._resync("unknown event id, or the daemon restarted")
        sequence = int(sequence_text)
        oldest = self._ring[0].sequence if self._ring else self._sequence + 1
        if sequence > self._sequence or sequence < oldest - 1:
            return self._sequence, self._resync("events after this id are no longer buffered")
        return sequence, None

    async def stream(
        self,
        *,
        last_event_id: str | None = None,
        runspace_id: str | None = None,
        first: HubEvent | None = None,
        stop: asyncio.Event | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield encoded SSE messages: replay after `last_event_id`, then live events.

        `runspace_id` limits the stream to one runspace, which ends after its ``deleted``
        state. `first` is sent before anything else (a ``snapshot``). The stream ends when
        the hub closes or `stop` is set; keepalive comments fill silences.
        """
        self.subscribers += 1
        try:
            yield b"retry: 2000\n\n"
            after, resync = self._start(last_event_id)
            if resync is not None:
                yield encode_event(resync)
            if first is not None:
                yield encode_event(first)
                if runspace_id is not None and first.state == RunspaceState.DELETED.value:
                    return

            while not self._closed and not (stop is not None and stop.is_set()):
                # Take the wakeup before reading the ring, so a publish in between is not missed.
                wakeup = self._wakeup
                if self._ring and self._ring[0].sequence > after + 1:
                    # This reader fell further behind than the ring holds.
                    yield encode_event(self._resync("the client fell behind the event buffer"))
                    after = self._sequence
                pending = [event for event in self._ring if event.sequence > after]
                for event in pending:
                    after = event.sequence
                    if runspace_id is not None and event.runspace_id != runspace_id:
                        continue
                    yield encode_event(event)
                    if runspace_id is not None and event.state == RunspaceState.DELETED.value:
                        return
                if pending:
                    continue
                if not await self._wait(wakeup, stop):
                    yield encode_comment("keepalive")
        finally:
            self.subscribers -= 1

    async def _wait(self, wakeup: asyncio.Event, stop: asyncio.Event | None) -> bool:
        """Wait for a publish or `stop`; return False when the keepalive interval passed."""
        waiters = [asyncio.ensure_future(wakeup.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=self.keepalive_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        return bool(done)
