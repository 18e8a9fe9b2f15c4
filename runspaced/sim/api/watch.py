"""Watch streams: newline-delimited ``{"type", "object"}`` events over chunked HTTP.

Semantics follow the real API server's watch cache:

- resourceVersion unset or "0": synthetic ADDED events for the current objects first,
  then changes. resourceVersion N: only changes after N; N older than the history gets
  one ERROR event (410 Expired, ``too old resource version: N (M)``) and the stream ends.
- sendInitialEvents=true (with resourceVersionMatch=NotOlderThan and
  allowWatchBookmarks=true): the current objects as ADDED, then a BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"``.
- allowWatchBookmarks=true: a BOOKMARK (kind, apiVersion, metadata.resourceVersion only)
  every bookmark interval and about 2 s before the watch times out.
- With selectors, an object that stops matching arrives as DELETED (its previous content
  with the new resourceVersion) and one that starts matching as ADDED.
- timeoutSeconds ends the stream cleanly with no final event; without it the server picks
  a timeout between the minimum request timeout and twice that.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from aiohttp import web

from ..faults import DROPPED, Faults
from ..resources import Resource
from ..selectors import Selector
from ..status import FieldError, bad_request, invalid, status_body
from ..store import Expired, HistoryEntry, ObjectStore, Subscription
from . import table
from .lists import too_large_resource_version
from .paths import Target

__all__ = ["WatchOptions", "serve_watch"]

log = structlog.get_logger("runspaced.sim.watch")

JsonObject = dict[str, Any]

# The real watch cache sends the pre-timeout bookmark this long before the deadline.
_PRE_TIMEOUT_BOOKMARK_S = 2.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """Server-wide watch settings."""

    bookmark_interval: float = 60.0
    # kube-apiserver --min-request-timeout default: 1800 s.
    min_request_timeout: float = 1800.0


def _true(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _encode(event_type: str, resource: Resource, obj: JsonObject) -> bytes:
    body = {"kind": resource.kind, "apiVersion": resource.api_version, **obj}
    return orjson.dumps({"type": event_type, "object": body}) + b"\n"


def _encode_entry(entry: HistoryEntry, resource: Resource) -> bytes:
    cached = entry.encoded.get(entry.event_type)
    if cached is None:
        cached = _encode(entry.event_type, resource, entry.obj)
        entry.encoded[entry.event_type] = cached
    return cached


def _bookmark(resource: Resource, resource_version: int, initial_end: bool = False) -> bytes:
    metadata: JsonObject = {"resourceVersion": str(resource_version)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    body = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}
    return orjson.dumps({"type": "BOOKMARK", "object": body}) + b"\n"


_Encoder = Callable[[str, Resource, JsonObject], bytes]


def _filtered(
    entry: HistoryEntry, resource: Resource, selector: Selector, encode: _Encoder | None
) -> bytes | None:
    """Return the line for this watcher, applying the watch cache's selector transitions.

    `encode` replaces the plain (cached) encoding, e.g. for Table output.
    """
    if encode is not None:
        plain = _filtered(entry, resource, selector, None)
        if plain is None:
            return None
        event = orjson.loads(plain)
        obj = {k: v for k, v in event["object"].items() if k not in ("kind", "apiVersion")}
        return encode(event["type"], resource, obj)
    if selector.empty:
        return _encode_entry(entry, resource)
    current_passes = entry.event_type != "DELETED" and selector.matches(entry.obj)
    previous_passes = entry.previous is not None and selector.matches(entry.previous)
    if current_passes and previous_passes:
        return _encode_entry(entry, resource)
    if current_passes:
        return _encode("ADDED", resource, entry.obj)
    if previous_passes:
        assert entry.previous is not None
        deleted_view = dict(entry.previous)
        deleted_view["metadata"] = {
            **entry.previous["metadata"],
            "resourceVersion": str(entry.resource_version),
        }
        return _encode("DELETED", resource, deleted_view)
    return None


def _validate(query: Any) -> None:
    errors: list[FieldError] = []
    send_initial = query.get("sendInitialEvents")
    match = query.get("resourceVersionMatch", "")
    if send_initial is not None:
        if match != "NotOlderThan":
            errors.append(
                FieldError(
                    "forbidden",
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )
            )
        if not _true(query.get("allowWatchBookmarks")):
            errors.append(
                FieldError(
                    "forbidden",
                    "allowWatchBookmarks",
                    "sendInitialEvents requires setting allowWatchBookmarks to true",
                )
            )
    elif match:
        errors.append(
            FieldError(
                "forbidden",
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            )
        )
    if errors:
        raise invalid("ListOptions", "", errors, group="meta.k8s.io")


def _timeout(query: Any, options: WatchOptions) -> float:
    raw = query.get("timeoutSeconds")
    if raw:
        try:
            return max(float(int(raw)), 0.0)
        except ValueError as error:
            raise bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from error
    return options.min_request_timeout * (1.0 + random.random())


async def serve_watch(
    request: web.Request,
    store: ObjectStore,
    faults: Faults,
    target: Target,
    selector: Selector,
    options: WatchOptions,
) -> web.StreamResponse:
    """Serve one watch request until timeout, client disconnect or a dropped connection."""
    query = request.query
    _validate(query)
    resource = target.resource
    namespace = target.namespace if resource.namespaced else None
    raw_rv = query.get("resourceVersion", "")
    send_initial_param = query.get("sendInitialEvents")
    bookmarks = _true(query.get("allowWatchBookmarks"))
    timeout = _timeout(query, options)
    encode: _Encoder | None = None
    if table.wants_table(request.headers.get("Accept", "")):

        def encode(event_type: str, resource: Resource, obj: JsonObject) -> bytes:
            rendered = table.object_table(resource, obj, query)
            return orjson.dumps({"type": event_type, "object": rendered}) + b"\n"

    # Decide the start point before the stream opens: errors here are plain HTTP errors.
    if send_initial_param is not None:
        send_initial = _true(send_initial_param)
    else:
        send_initial = raw_rv in ("", "0")
    initial_end_bookmark = _true(send_initial_param)
    if raw_rv not in ("", "0"):
        try:
            since = int(raw_rv)
        except ValueError as error:
            raise bad_request(f'invalid resource version "{raw_rv}"') from error
        if since > store.resource_version:
            raise too_large_resource_version(since, store.resource_version)
    else:
        since = store.resource_version
    if send_initial:
        since = store.resource_version

    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    try:
        subscription = store.subscribe(resource.plural, namespace, since)
    except Expired as error:
        # The real server sends the 410 as an ERROR event on an open stream.
        expired_status = status_body(410, str(error), "Expired")
        line = orjson.dumps({"type": "ERROR", "object": expired_status}) + b"\n"
        await response.write(line)
        await response.write_eof()
        log.info("sim.watch.expired", resource=resource.plural, resource_version=since)
        return response

    try:
        if send_initial:
            lines = [
                (encode or _encode)("ADDED", resource, obj)
                for obj in store.list(resource.plural, namespace)
                if selector.matches(obj)
            ]
            if initial_end_bookmark:
                lines.append(_bookmark(resource, since, initial_end=True))
            if lines:
                await response.write(b"".join(lines))
        await _stream(
            response,
            store,
            faults,
            subscription,
            resource,
            selector,
            encode,
            bookmarks,
            timeout,
            options,
        )
    except ConnectionResetError:
        # The client went away mid-write: a normal end for a watch, not a server error.
        subscription.close("client gone")
        log.debug("sim.watch.client_gone", resource=resource.plural)
        return response
    except asyncio.CancelledError:
        subscription.close("client gone")
        raise
    finally:
        subscription.close("ended")

    if subscription.close_reason == DROPPED:
        transport = request.transport
        if transport is not None:
            transport.abort()
        return response
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def _stream(
    response: web.StreamResponse,
    store: ObjectStore,
    faults: Faults,
    subscription: Subscription,
    resource: Resource,
    selector: Selector,
    encode: _Encoder | None,
    bookmarks: bool,
    timeout: float,
    options: WatchOptions,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    started = time.monotonic()

    def next_bookmark_time(now: float) -> float | None:
        # As the watch cache schedules them: every interval, but no later than 2 s before
        # the deadline, and none once that point has passed.
        if not bookmarks:
            return None
        heartbeat = min(now + options.bookmark_interval, deadline - _PRE_TIMEOUT_BOOKMARK_S)
        return heartbeat if heartbeat >= now else None

    next_bookmark = next_bookmark_time(loop.time())

    while True:
        # A stalled watch sends nothing and ignores its deadline until resumed or dropped.
        if faults.watches_stalled:
            stall = asyncio.ensure_future(faults.wait_unstalled())
            closed = asyncio.ensure_future(subscription.wait_closed())
            await asyncio.wait({stall, closed}, return_when=asyncio.FIRST_COMPLETED)
            stall.cancel()
            closed.cancel()
            continue
        if subscription.closed:
            return

        entries = subscription.drain()
        lines = [line for e in entries if (line := _filtered(e, resource, selector, encode))]
        if lines:
            await response.write(b"".join(lines))

        now = loop.time()
        if now >= deadline:
            log.debug(
                "sim.watch.timed_out",
                resource=resource.plural,
                elapsed_s=round(time.monotonic() - started, 3),
            )
            return
        if next_bookmark is not None and now >= next_bookmark:
            await response.write(_bookmark(resource, store.resource_version))
            next_bookmark = next_bookmark_time(now)

        wake_at = deadline if next_bookmark is None else min(deadline, next_bookmark)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(wake_at - loop.time(), 0.0)):
                await subscription.wait()
