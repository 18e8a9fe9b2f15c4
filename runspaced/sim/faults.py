"""Fault injection: what a flaky network, an overloaded or restarting API server does.

Every fault is reachable from Python (`SimCluster.faults`) and over HTTP (routes under
``/_sim/faults/``, see `runspaced.sim.admin`).
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from .status import ApiError, status_body, too_many_requests
from .store import ObjectStore

__all__ = ["FailureRule", "Faults"]

log = structlog.get_logger("runspaced.sim.faults")

# Close reasons a watch stream reads from its subscription to decide how to end.
DROPPED = "dropped"

_MESSAGES = {
    403: "forbidden: injected fault",
    410: "The resourceVersion for the provided request is too old.",
    500: "Internal error occurred: injected fault",
    503: "The server is currently unable to handle the request (injected fault)",
}


@dataclass(slots=True)
class FailureRule:
    """Fail the next `remaining` requests whose method and path match.

    `path_pattern` is an fnmatch glob over the URL path without the query, e.g.
    ``/api/v1/namespaces/*/pods*``; `method` is an HTTP method or ``*``.
    """

    remaining: int
    method: str
    path_pattern: str
    status: int
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        """Return True when the request matches this rule's method and path."""
        if self.method not in ("*", method.upper()):
            return False
        return fnmatch.fnmatchcase(path, self.path_pattern)

    def error(self) -> ApiError:
        """Return the error to send for a matching request."""
        if self.status == 429:
            return too_many_requests(self.retry_after if self.retry_after is not None else 1)
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        error = ApiError(self.status, _MESSAGES.get(self.status, "injected fault"), headers=headers)
        if self.retry_after is not None:
            error.body = status_body(
                self.status,
                error.body["message"],
                error.body["reason"],
                {"retryAfterSeconds": self.retry_after},
            )
        return error


class Faults:
    """Switches and one-shot actions that make the simulated cluster misbehave."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        evict: Callable[[str, str, str | None], bool],
        restart: Callable[[], Awaitable[None]],
    ) -> None:
        self._store = store
        self._evict = evict
        self._restart = restart
        self._rules: list[FailureRule] = []
        self.latency = 0.0
        self._unstalled = asyncio.Event()
        self._unstalled.set()

    # -- watches -------------------------------------------------------------------------

    def drop_watches(self) -> int:
        """Cut every open watch connection now; return how many were open.

        The connections are closed without the final chunk, as a failing proxy or a
        crashed server would close them, so clients see a read error.
        """
        count = self._store.close_subscriptions(DROPPED)
        log.info("sim.fault.watches_dropped", watches=count)
        return count

    def stall_watches(self, on: bool = True) -> None:
        """Hold every watch stream open while sending nothing: no events, no bookmarks.

        Stalled watches also ignore their timeoutSeconds. They resume where they were
        when un-stalled (``on=False``), or end when dropped.
        """
        if on:
            self._unstalled.clear()
        else:
            self._unstalled.set()
        self._store.notify_subscriptions()
        log.info("sim.fault.watches_stalled", on=on)

    @property
    def watches_stalled(self) -> bool:
        """True while watch streams are stalled."""
        return not self._unstalled.is_set()

    async def wait_unstalled(self) -> None:
        """Return once watches are no longer stalled."""
        await self._unstalled.wait()

    def compact(self) -> int:
        """Drop the change history; return the oldest resourceVersion still served.

        Watches and continue tokens from older resourceVersions then get 410 Expired.
        """
        floor = self._store.compact()
        log.info("sim.fault.compacted", resource_version=floor)
        return floor

    # -- requests ------------------------------------------------------------------------

    def fail_next(
        self,
        n: int,
        method: str = "*",
        path_pattern: str = "*",
        status: int = 500,
        retry_after: int | None = None,
    ) -> None:
        """Fail the next `n` requests matching `method` and the fnmatch `path_pattern`.

        The response carries a Status body with `status` (e.g. 500, 503, 429, 403, 410).
        `retry_after` (seconds) sets the Retry-After header; 429 always sends one
        (default 1 s). Watch requests fail before their stream starts, except 410, which
        a watch receives as an ERROR event on a 200 stream, as from a real server.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self._rules.append(FailureRule(n, method.upper(), path_pattern, status, retry_after))
        log.info(
            "sim.fault.failure_armed", count=n, method=method, path=path_pattern, status=status
        )

    def take_failure(self, method: str, path: str) -> ApiError | None:
        """Consume one matching failure rule and return its error, or None."""
        for rule in self._rules:
            if rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule.error()
        return None

    def clear(self) -> None:
        """Remove armed failures and latency and resume stalled watches."""
        self._rules.clear()
        self.latency = 0.0
        self._unstalled.set()
        self._store.notify_subscriptions()

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` before handling it (0 turns it off)."""
        if seconds < 0:
            raise ValueError(f"latency must be at least 0, got {seconds}")
        self.latency = seconds
        log.info("sim.fault.latency_set", seconds=seconds)

    # -- objects and the server ----------------------------------------------------------

    def evict(self, namespace: str, name: str, message: str | None = None) -> bool:
        """Evict a pod as the kubelet does under node pressure; False when it is unknown."""
        return self._evict(namespace, name, message)

    def delete_behind_back(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Remove a pod at once, skipping graceful deletion; return it, None if absent."""
        removed = self._store.remove("pods", namespace, name)
        log.info("sim.fault.pod_removed", namespace=namespace, pod=name, found=removed is not None)
        return removed

    async def restart_server(self) -> None:
        """Close every connection and re-bind the same port; objects and RVs are kept."""
        await self._restart()

    def statistics(self) -> dict[str, Any]:
        """Return the active faults."""
        return {
            "latency": self.latency,
            "watchesStalled": self.watches_stalled,
            "failures": [
                {
                    "remaining": r.remaining,
                    "method": r.method,
                    "path": r.path_pattern,
                    "status": r.status,
                    "retryAfter": r.retry_after,
                }
                for r in self._rules
            ],
        }
