"""Watch sinks: turn pod and Event watch output into runspace transitions.

These are the only writers of watch data into the engine's runspaces. Both are called
synchronously by `ResourceWatch`, so every snapshot and event is applied in order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from .._kube.backoff import Backoff
from .._kube.manifest import ID_LABEL
from .._kube.pods import events_path, pods_path
from .._kube.transport import KubeTransport
from .._kube.watch import ResourceWatch
from .._state.machine import apply_event, apply_pod_gone
from .._state.records import (
    EventRecord,
    PodRecord,
    decode_pod_event,
    event_record,
    pod_record,
)
from .._types import RunspaceState

if TYPE_CHECKING:
    from .engine import RunspaceEngine

__all__ = ["EventFeed", "PodFeed", "event_watch", "pod_watch"]

log = structlog.get_logger("runspaced.engine")


class PodFeed:
    """Sink of the shared pod watch: applies snapshots, adopts our pods, detects deletions."""

    def __init__(self, engine: RunspaceEngine) -> None:
        self.engine = engine
        self.list_started_at = time.monotonic()

    def on_list_started(self) -> None:
        self.list_started_at = time.monotonic()

    def on_listed(self, items: Sequence[PodRecord], resource_version: str) -> None:
        engine = self.engine
        seen: set[str] = set()
        for record in items:
            seen.add(record.name)
            self._apply(record)

        # Reconcile: a runspace whose pod existed before this list began, yet is not in
        # it, was deleted while the watch was down.
        for runspace in list(engine._runspaces.values()):
            if runspace.id in seen or runspace.pod_gone:
                continue
            confirmed = runspace.create_confirmed_at
            existed = runspace.pod_seen or (
                confirmed is not None and confirmed < self.list_started_at
            )
            if existed:
                log.info(
                    "runspace.pod_missing_after_relist",
                    runspace_id=runspace.id,
                    pod=runspace.id,
                    resource_version=resource_version,
                )
                engine._transition(runspace, apply_pod_gone, time.monotonic())
        engine._on_pods_synced()

    def on_event(self, event_type: str, item: PodRecord) -> None:
        if event_type == "DELETED":
            runspace = self.engine._runspaces.get(item.name)
            if runspace is not None and not runspace.pod_gone:
                runspace.resource_version = item.resource_version
                self.engine._transition(runspace, apply_pod_gone, time.monotonic())
            return
        self._apply(item)

    def _apply(self, record: PodRecord) -> None:
        engine = self.engine
        runspace = engine._runspaces.get(record.name)
        if runspace is None:
            if record.labels.get(ID_LABEL) != record.name:
                return
            if record.verdict.state is RunspaceState.TERMINATING:
                return
            runspace = engine._adopt(record)
        engine._apply_record(runspace, record)


class EventFeed:
    """Sink of the advisory Event watch: the latest Event of a pod becomes its detail."""

    def __init__(self, engine: RunspaceEngine) -> None:
        self.engine = engine

    def on_list_started(self) -> None:
        pass

    def on_listed(self, items: Sequence[EventRecord], resource_version: str) -> None:
        for record in sorted(items, key=lambda event: event.timestamp):
            self._apply(record)

    def on_event(self, event_type: str, item: EventRecord) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            self._apply(item)

    def _apply(self, record: EventRecord) -> None:
        runspace = self.engine._runspaces.get(record.pod_name)
        if runspace is None:
            return
        previous = self.engine._previous_snapshot(runspace)
        if apply_event(runspace, record):
            self.engine._publish(runspace, previous)


def pod_watch(engine: RunspaceEngine, transport: KubeTransport) -> ResourceWatch[PodRecord]:
    """Build the engine's shared watch of its labelled pods, feeding a `PodFeed`."""
    settings = engine.settings
    ready_when = settings.ready_when

    def parse_pod(obj: Mapping[str, Any]) -> PodRecord:
        return pod_record(obj, ready_when=ready_when)

    return ResourceWatch(
        transport,
        path=pods_path(engine.namespace),
        kind="pods",
        parse=parse_pod,
        sink=PodFeed(engine),
        label_selector=engine.label_selector,
        page_size=settings.page_size,
        timeout_range=settings.watch_timeout_range,
        stall_timeout=settings.stall_timeout,
        backoff=Backoff(settings.backoff_base, settings.backoff_cap),
        decode=decode_pod_event,
    )


def event_watch(engine: RunspaceEngine, transport: KubeTransport) -> ResourceWatch[EventRecord]:
    """Build the engine's watch of core/v1 Events about pods, feeding an `EventFeed`."""
    settings = engine.settings
    return ResourceWatch(
        transport,
        path=events_path(engine.namespace),
        kind="events",
        parse=event_record,
        sink=EventFeed(engine),
        field_selector="involvedObject.kind=Pod",
        page_size=settings.page_size,
        timeout_range=settings.watch_timeout_range,
        stall_timeout=settings.stall_timeout,
        backoff=Backoff(settings.backoff_base, settings.backoff_cap),
    )
