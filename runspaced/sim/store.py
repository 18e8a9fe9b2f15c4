"""In-memory object store of the simulated cluster: objects, resourceVersions, history, watchers.

The store plays the part of etcd plus the apiserver's watch cache. It is synchronous and
lives in one asyncio event loop, so it needs no locks.

- Objects are plain JSON dicts in wire form (camelCase) without ``kind``/``apiVersion``;
  the HTTP layer adds those where the real API server sends them.
- One global resourceVersion counter increases on every change of any kind.
- Every change is appended to a bounded history (the watch cache). A watch or a continue
  token from a resourceVersion older than the history raises `Expired`, as the real
  apiserver answers 410 Gone.
- `snapshot` rebuilds the list of a kind as it was at an older resourceVersion by undoing
  the newer history entries, which is how paginated lists keep one resourceVersion.

Kinds are plural resource names ("pods", "events", "nodes", "namespaces", "leases");
``namespace`` is None for cluster-scoped kinds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

__all__ = [
    "AlreadyExists",
    "Expired",
    "HistoryEntry",
    "Listener",
    "ObjectStore",
    "StoreError",
    "Subscription",
    "now_rfc3339",
    "storage_key",
]

log = structlog.get_logger("runspaced.sim.store")

JsonObject = dict[str, Any]
JsonList = list[JsonObject]
Listener = Callable[[str, str, JsonObject], None]

# Key of one object inside a kind: (namespace or "", name).
_Key = tuple[str, str]
_KeyedList = list[tuple[_Key, JsonObject]]

DEFAULT_HISTORY_SIZE = 10_000
# A watcher that falls this many events behind is closed, as the real apiserver closes
# watchers whose buffer fills up; the client must re-watch.
MAX_PENDING_EVENTS = 100_000


class StoreError(Exception):
    """Base of the errors the store raises."""


class AlreadyExists(StoreError):
    """An object with this kind, namespace and name exists already."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f'{kind} "{name}" already exists')
        self.kind = kind
        self.name = name


class Expired(StoreError):
    """The requested resourceVersion is older than the retained history (HTTP 410)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


def storage_key(namespace: str | None, name: str) -> str:
    """Return the object's key below its kind's etcd prefix: ``ns/name``, or ``name``.

    Lists return objects sorted by this key (bytewise), and continue tokens carry it.
    """
    return f"{namespace}/{name}" if namespace else name


def now_rfc3339() -> str:
    """Return the current UTC time in the API's RFC 3339 form with second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _copy(obj: JsonObject) -> JsonObject:
    # A JSON round trip is several times faster than copy.deepcopy for these dicts.
    copied: JsonObject = orjson.loads(orjson.dumps(obj))
    return copied


@dataclass(slots=True)
class HistoryEntry:
    """One recorded change.

    ``obj`` is the object after the change (for DELETED: the last state with the deletion's
    resourceVersion). ``previous`` is the object before the change, None for ADDED.
    """

    resource_version: int
    event_type: str
    kind: str
    namespace: str | None
    obj: JsonObject
    previous: JsonObject | None
    # Wire encodings cached by the HTTP layer, keyed by its own choice of form.
    encoded: dict[str, bytes] = field(default_factory=dict)


class Subscription:
    """A watcher's feed: history replay after a resourceVersion, then live entries.

    Entries are queued without filtering by kind or namespace beyond the ones given at
    subscription time; selectors are applied by the reader. `closed` becomes True when the
    store drops the watcher (fault injection or a full buffer); `get` then returns None.
    """

    def __init__(self, store: ObjectStore, kind: str, namespace: str | None) -> None:
        self._store = store
        self.kind = kind
        self.namespace = namespace
        self._pending: deque[HistoryEntry] = deque()
        self._wakeup = asyncio.Event()
        self._closed_event = asyncio.Event()
        self.closed = False
        self.close_reason: str | None = None

    def matches(self, entry: HistoryEntry) -> bool:
        """Return True when the entry belongs to this subscription's kind and namespace."""
        if entry.kind != self.kind:
            return False
        return self.namespace is None or entry.namespace == self.namespace

    def push(self, entry: HistoryEntry) -> None:
        """Queue one entry; close the subscription when the buffer is full."""
        if self.closed:
            return
        if len(self._pending) >= MAX_PENDING_EVENTS:
            log.warning("sim.watch.buffer_overflowed", kind=self.kind, pending=len(self._pending))
            self.close("buffer full")
            return
        self._pending.append(entry)
        self._wakeup.set()

    def close(self, reason: str = "closed") -> None:
        """Stop the feed; a pending or later `get` returns None."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self._pending.clear()
        self._wakeup.set()
        self._closed_event.set()
        self._store._subscriptions.discard(self)

    def notify(self) -> None:
        """Wake a pending `wait` without queuing an entry (the reader re-checks its state)."""
        self._wakeup.set()

    def drain(self) -> list[HistoryEntry]:
        """Return and remove every queued entry without waiting."""
        entries = list(self._pending)
        self._pending.clear()
        if not self.closed:
            self._wakeup.clear()
        return entries

    async def wait(self) -> None:
        """Wait until an entry is queued or the feed closes."""
        if self._pending or self.closed:
            return
        await self._wakeup.wait()

    async def wait_closed(self) -> None:
        """Wait until the feed is closed."""
        await self._closed_event.wait()


class ObjectStore:
    """Objects by kind, one global resourceVersion, a bounded change history and watchers."""

    def __init__(self, *, history_size: int = DEFAULT_HISTORY_SIZE, start_rv: int = 100) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be at least 1, got {history_size}")
        self._objects: dict[str, dict[_Key, JsonObject]] = {}
        self._rv = start_rv
        self._history: deque[HistoryEntry] = deque(maxlen=history_size)
        # Oldest resourceVersion a watch or continue token may still start from: every
        # change after it is in the history.
        self._floor = start_rv
        self._listeners: list[Listener] = []
        self._subscriptions: set[Subscription] = set()

    # -- reads ---------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """Current global resourceVersion (the wire form is its decimal string)."""
        return self._rv

    @property
    def oldest_resource_version(self) -> int:
        """Oldest resourceVersion from which a watch or a continue token is still served."""
        return self._floor

    @property
    def history_size(self) -> int:
        """Maximum number of changes kept in the history."""
        maxlen = self._history.maxlen
        assert maxlen is not None
        return maxlen

    def get(self, kind: str, namespace: str | None, name: str) -> JsonObject | None:
        """Return the stored object, or None. Callers must not mutate the result."""
        return self._objects.get(kind, {}).get((namespace or "", name))

    def list(self, kind: str, namespace: str | None = None) -> JsonList:
        """Return the objects of a kind in key order, all namespaces when `namespace` is None.

        Callers must not mutate the returned objects.
        """
        return [obj for _, obj in self._sorted_items(self._objects.get(kind, {}), namespace)]

    def count(self, kind: str) -> int:
        """Return the number of stored objects of a kind."""
        return len(self._objects.get(kind, {}))

    def snapshot(self, kind: str, namespace: str | None, resource_version: int) -> JsonList:
        """Return the objects of a kind as they were at `resource_version`, in key order.

        Raises Expired if `resource_version` is older than the history, ValueError if it is
        newer than the current resourceVersion.
        """
        if resource_version > self._rv:
            raise ValueError(f"resourceVersion {resource_version} is in the future")
        if resource_version < self._floor:
            raise Expired(resource_version, self._floor)
        objects = dict(self._objects.get(kind, {}))

        # Undo the newer changes, newest first.
        for entry in reversed(self._history):
            if entry.resource_version <= resource_version:
                break
            if entry.kind != kind:
                continue
            key = (entry.namespace or "", entry.obj["metadata"]["name"])
            if entry.previous is None:
                objects.pop(key, None)
            else:
                objects[key] = entry.previous
        return [obj for _, obj in self._sorted_items(objects, namespace)]

    def history_since(self, resource_version: int) -> Iterator[HistoryEntry]:
        """Yield the recorded changes newer than `resource_version`, oldest first.

        Raises Expired if changes after `resource_version` were dropped from the history.
        """
        if resource_version < self._floor:
            raise Expired(resource_version, self._floor)
        return (e for e in list(self._history) if e.resource_version > resource_version)

    # -- writes --------------------------------------------------------------------------

    def create(self, kind: str, namespace: str | None, obj: JsonObject) -> JsonObject:
        """Store a new object and record ADDED; return the stored object.

        Sets metadata.resourceVersion, uid, creationTimestamp and namespace (for namespaced
        kinds). Raises AlreadyExists if the name is taken.
        """
        stored = _copy(obj)
        metadata = stored.setdefault("metadata", {})
        name = metadata["name"]
        bucket = self._objects.setdefault(kind, {})
        key = (namespace or "", name)
        if key in bucket:
            raise AlreadyExists(kind, name)
        self._rv += 1
        metadata["resourceVersion"] = str(self._rv)
        metadata.setdefault("uid", str(uuid.uuid4()))
        metadata.setdefault("creationTimestamp", now_rfc3339())
        if namespace is not None:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        bucket[key] = stored
        self._record("ADDED", kind, namespace, stored, None)
        return stored

    def update(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        mutate: Callable[[JsonObject], None],
    ) -> JsonObject | None:
        """Apply `mutate` to a copy of the object, bump its resourceVersion, record MODIFIED.

        Returns the new object, or None when the object does not exist. Exceptions raised
        by `mutate` propagate and leave the stored object unchanged.
        """
        bucket = self._objects.get(kind, {})
        key = (namespace or "", name)
        previous = bucket.get(key)
        if previous is None:
            return None
        updated = _copy(previous)
        mutate(updated)
        self._rv += 1

        # Identity fields stay what the store set, whatever `mutate` did to them.
        metadata = updated.setdefault("metadata", {})
        metadata["name"] = name
        metadata["uid"] = previous["metadata"]["uid"]
        metadata["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
        metadata["resourceVersion"] = str(self._rv)
        if namespace is not None:
            metadata["namespace"] = namespace
        bucket[key] = updated
        self._record("MODIFIED", kind, namespace, updated, previous)
        return updated

    def remove(self, kind: str, namespace: str | None, name: str) -> JsonObject | None:
        """Delete the object now and record DELETED; return it with the deletion's RV.

        Returns None when the object does not exist.
        """
        bucket = self._objects.get(kind, {})
        previous = bucket.pop((namespace or "", name), None)
        if previous is None:
            return None
        self._rv += 1
        final = _copy(previous)
        final["metadata"]["resourceVersion"] = str(self._rv)
        self._record("DELETED", kind, namespace, final, previous)
        return final

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event_type, kind, obj)` after every recorded change.

        Listeners run synchronously, after watchers got the entry. They must not raise and
        must not mutate `obj`. A change a listener makes is recorded (and delivered) before
        the next listener sees the outer change.
        """
        self._listeners.append(listener)

    # -- watch support -------------------------------------------------------------------

    def subscribe(self, kind: str, namespace: str | None, since: int) -> Subscription:
        """Open a feed of changes of a kind newer than resourceVersion `since`.

        History entries after `since` are queued at once. Raises Expired if they were
        dropped from the history.
        """
        replay = [e for e in self.history_since(since) if e.kind == kind]
        subscription = Subscription(self, kind, namespace)
        for entry in replay:
            if subscription.matches(entry):
                subscription.push(entry)
        self._subscriptions.add(subscription)
        return subscription

    def close_subscriptions(self, reason: str) -> int:
        """Close every open feed (watch connections end); return how many were open."""
        subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close(reason)
        return len(subscriptions)

    def notify_subscriptions(self) -> None:
        """Wake every reader waiting on its feed, e.g. after a fault switch changed."""
        for subscription in list(self._subscriptions):
            subscription.notify()

    @property
    def subscription_count(self) -> int:
        """Number of open feeds."""
        return len(self._subscriptions)

    def compact(self) -> int:
        """Drop the whole history, as an etcd compaction does; return the new oldest RV.

        Watches and continue tokens from older resourceVersions then raise Expired.
        Open feeds keep running.
        """
        self._history.clear()
        self._floor = self._rv
        log.info("sim.store.compacted", resource_version=self._rv)
        return self._floor

    # -- internals -----------------------------------------------------------------------

    def _record(
        self,
        event_type: str,
        kind: str,
        namespace: str | None,
        obj: JsonObject,
        previous: JsonObject | None,
    ) -> None:
        entry = HistoryEntry(self._rv, event_type, kind, namespace, obj, previous)

        # The oldest entry falls out of a full history: changes up to its RV are gone.
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].resource_version
        self._history.append(entry)

        for subscription in list(self._subscriptions):
            if subscription.matches(entry):
                subscription.push(entry)
        for listener in list(self._listeners):
            try:
                listener(event_type, kind, obj)
            except Exception:
                log.exception("sim.store.listener_failed", kind=kind, event_type=event_type)

    @staticmethod
    def _sorted_items(objects: dict[_Key, JsonObject], namespace: str | None) -> _KeyedList:
        if namespace is None:
            items = list(objects.items())
        else:
            items = [(k, v) for k, v in objects.items() if k[0] == namespace]
        items.sort(key=lambda item: storage_key(item[0][0], item[0][1]))
        return items
