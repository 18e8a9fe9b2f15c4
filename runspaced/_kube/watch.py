"""One resilient list-then-watch of a Kubernetes collection.

`ResourceWatch.run()` never returns on its own. It lists the collection (paginated),
hands the snapshot to its sink, then watches from the list's resourceVersion and hands
over every event. The rules it keeps:

1. A list is paginated with ``limit``/``continue``. An expired continue token (410)
   restarts the list from the first page.
2. The watch requests bookmarks and a randomized ``timeoutSeconds``. When the server
   closes it normally, the watch resumes from the last resourceVersion seen (bookmarks
   included) without relisting.
3. A 410 Expired, as an HTTP status or as an ERROR event in the stream, triggers a
   relist. The sink reconciles the new snapshot, so nothing is silently dropped.
4. A watch that sends nothing (no event, no bookmark) for `stall_timeout` seconds is
   torn down and resumed, so a half-open connection cannot hang the engine.
5. Every other failure retries with capped exponential back-off and full jitter,
   forever, honouring Retry-After on 429.
6. resourceVersion is an opaque string: it is stored and sent back, never compared.
7. Unknown event types are logged and skipped. ERROR events with another Status
   restart the watch. Event lines of any size up to `max_line_bytes` are accepted.
8. Event lines are decoded from raw bytes by `decode` (orjson unless the owner passes
   a decoder that skips fields it does not read) and turned into slim records by
   `parse`; no kubernetes-asyncio models are built.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, Protocol, TypeVar

import anyio
import orjson
import structlog

from .backoff import Backoff
from .errors import ApiStatusError, TransportError, WatchExpired, WatchStalled
from .transport import KubeTransport

__all__ = ["ResourceWatch", "WatchSink", "WatchStats"]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

log = structlog.get_logger("runspaced.watch")


class WatchSink(Protocol[T_contra]):
    """Receiver of a watch's snapshots and events, called synchronously in order."""

    def on_list_started(self) -> None:
        """Note that a list is about to start; its snapshot is at least this recent."""

    def on_listed(self, items: Sequence[T_contra], resource_version: str) -> None:
        """Take a complete snapshot of the collection (first list and every relist)."""

    def on_event(self, event_type: str, item: T_contra) -> None:
        """Take one ADDED, MODIFIED or DELETED event."""


@dataclass(slots=True)
class WatchStats:
    """Counters and health of one watch. `last_event_at` is a `time.monotonic()` value."""

    synced: bool = False
    connected: bool = False
    lists: int = 0
    relists: int = 0
    resumes: int = 0
    restarts: int = 0
    events: int = 0
    bookmarks: int = 0
    last_event_at: float | None = None
    last_error: str | None = None
    resource_version: str | None = None


class ResourceWatch(Generic[T]):
    """List and watch one collection forever, feeding `sink`.

    `path` is the collection path (e.g. ``/api/v1/namespaces/default/pods``). `parse`
    turns one decoded object into the record the sink takes; it must not raise for
    objects of the watched kind. `decode` turns one watch line into plain dicts and
    raises `orjson.JSONDecodeError` for a line that is not JSON. Times are in seconds.
    """

    def __init__(
        self,
        transport: KubeTransport,
        *,
        path: str,
        kind: str,
        parse: Callable[[Mapping[str, Any]], T],
        sink: WatchSink[T],
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        timeout_range: tuple[float, float] = (300.0, 600.0),
        stall_timeout: float = 120.0,
        backoff: Backoff | None = None,
        max_line_bytes: int = 64 * 1024 * 1024,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if not 0 < timeout_range[0] <= timeout_range[1]:
            raise ValueError(f"invalid watch timeout range: {timeout_range!r}")
        if stall_timeout <= 0:
            raise ValueError(f"stall_timeout must be positive, got {stall_timeout}")
        self.transport = transport
        self.path = path
        self.kind = kind
        self.parse = parse
        self.sink = sink
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.timeout_range = timeout_range
        self.stall_timeout = stall_timeout
        self.backoff = backoff or Backoff()
        self.max_line_bytes = max_line_bytes
        self.decode = decode
        self.stats = WatchStats()
        self._log = log.bind(kind=kind, path=path)

    def _selectors(self) -> list[tuple[str, str]]:
        query: list[tuple[str, str]] = []
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        if self.field_selector:
            query.append(("fieldSelector", self.field_selector))
        return query

    async def run(self) -> NoReturn:
        """List, then watch and resume forever. Only cancellation ends it."""
        resource_version: str | None = None
        while True:
            try:
                if resource_version is None:
                    resource_version = await self._list()
                    self.backoff.reset()
                await self._watch(resource_version)
                resource_version = self.stats.resource_version or resource_version
                self.stats.resumes += 1
                self._log.debug("watch.resumed", resource_version=resource_version)
            except WatchExpired as error:
                self.stats.relists += 1
                self.stats.last_error = str(error)
                self._log.info(
                    "watch.relist_started", resource_version=resource_version, error=str(error)
                )
                resource_version = None
            except WatchStalled as error:
                resource_version = self.stats.resource_version or resource_version
                self.stats.restarts += 1
                self.stats.last_error = str(error)
                self._log.warning(
                    "watch.stalled",
                    resource_version=resource_version,
                    stall_timeout_s=self.stall_timeout,
                )
            except (TransportError, ApiStatusError) as error:
                if resource_version is not None:
                    # Resume after the last event applied, not from where this stream began.
                    resource_version = self.stats.resource_version or resource_version
                self.stats.restarts += 1
                self.stats.last_error = str(error)
                retry_after = error.retry_after if isinstance(error, ApiStatusError) else None
                delay = self.backoff.next_delay(retry_after)
                self._log.warning(
                    "watch.retry_scheduled",
                    attempt=self.backoff.attempt,
                    delay_s=round(delay, 3),
                    resource_version=resource_version,
                    error=str(error),
                )
                await anyio.sleep(delay)
            except Exception as error:
                # A bug in parsing or in the sink must not end the watch: relist, which
                # rebuilds every runspace from a fresh snapshot.
                self.stats.restarts += 1
                self.stats.last_error = repr(error)
                delay = self.backoff.next_delay()
                self._log.exception(
                    "watch.failed",
                    resource_version=resource_version,
                    delay_s=round(delay, 3),
                )
                resource_version = None
                await anyio.sleep(delay)
            finally:
                self.stats.connected = False

    async def _list(self) -> str:
        """Read the whole collection, hand it to the sink and return its resourceVersion."""
        while True:
            self.sink.on_list_started()
            items: list[T] = []
            token: str | None = None
            list_version: str | None = None
            try:
                while True:
                    query: list[tuple[str, str | int | bool]] = [("limit", self.page_size)]
                    query.extend(self._selectors())
                    if token:
                        query.append(("continue", token))
                    page = await self.transport.request_json(
                        "GET", self.path, query=query, reserved=True
                    )
                    metadata = page.get("metadata") or {}
                    if list_version is None:
                        list_version = metadata.get("resourceVersion")
                    for item in page.get("items") or ():
                        if isinstance(item, Mapping):
                            items.append(self.parse(item))
                    token = metadata.get("continue") or None
                    if token is None:
                        break
            except ApiStatusError as error:
                if error.status == 410 and token is not None:
                    self._log.info("watch.list_continue_expired", error=str(error))
                    continue
                raise

            if not list_version:
                raise TransportError(f"list of {self.path} carried no resourceVersion")
            self.sink.on_listed(items, list_version)
            self.stats.lists += 1
            self.stats.synced = True
            self.stats.resource_version = list_version
            self.stats.last_event_at = time.monotonic()
            self._log.info("watch.listed", items=len(items), resource_version=list_version)
            return list_version

    async def _watch(self, resource_version: str) -> None:
        """Stream events from `resource_version` until the server closes the stream.

        `stats.resource_version` follows every event and bookmark applied, so the
        caller resumes from there after a normal close or a failure.
        """
        timeout = int(random.uniform(*self.timeout_range))
        query: list[tuple[str, str | int | bool]] = [
            ("watch", "1"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout),
        ]
        query.extend(self._selectors())
        try:
            stream = await self.transport.open_stream(self.path, query=query)
        except ApiStatusError as error:
            if error.status == 410:
                raise WatchExpired(str(error)) from error
            raise

        self.stats.connected = True
        self._log.info("watch.started", resource_version=resource_version, timeout_s=timeout)
        buffer = bytearray()
        searched = 0
        try:
            while True:
                with anyio.move_on_after(self.stall_timeout) as scope:
                    chunk = await stream.read_chunk()
                if scope.cancelled_caught:
                    raise WatchStalled(f"no data for {self.stall_timeout} s")
                if not chunk:
                    return
                self.stats.last_event_at = time.monotonic()
                buffer += chunk

                # Split complete lines; `searched` skips bytes already scanned, so a
                # very long line arriving in many chunks is scanned once.
                while True:
                    end = buffer.find(b"\n", searched)
                    if end < 0:
                        searched = len(buffer)
                        break
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    searched = 0
                    resource_version = self._handle_line(line, resource_version)
                    self.stats.resource_version = resource_version
                if len(buffer) > self.max_line_bytes:
                    raise TransportError(
                        f"watch event line exceeds {self.max_line_bytes} bytes; restarting"
                    )
        finally:
            stream.close()

    def _handle_line(self, line: bytes, resource_version: str) -> str:
        """Apply one event line and return the resourceVersion to resume from."""
        if not line.strip():
            return resource_version
        try:
            event = self.decode(line)
        except orjson.JSONDecodeError as error:
            raise TransportError(f"watch sent a line that is not JSON: {error}") from error
        if not isinstance(event, dict):
            raise TransportError("watch sent a line that is not a JSON object")

        event_type = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            self._log.warning("watch.event_skipped", event_type=event_type, why="no object")
            return resource_version
        metadata = obj.get("metadata") or {}
        new_version = metadata.get("resourceVersion") or resource_version

        if event_type in ("ADDED", "MODIFIED", "DELETED"):
            self.stats.events += 1
            self.sink.on_event(event_type, self.parse(obj))
            return str(new_version)
        if event_type == "BOOKMARK":
            self.stats.bookmarks += 1
            return str(new_version)
        if event_type == "ERROR":
            code = obj.get("code")
            message = obj.get("message")
            if code == 410:
                raise WatchExpired(str(message or "410 Expired"))
            raise ApiStatusError(
                code if isinstance(code, int) else 500,
                obj.get("reason"),
                message if isinstance(message, str) else None,
            )

        self._log.warning(
            "watch.event_type_unknown", event_type=event_type, resource_version=resource_version
        )
        return resource_version
