"""Wall-clock times at which the simulator changed pods, for latency benchmarks."""

from __future__ import annotations

import time
from collections.abc import Mapping

__all__ = ["Timeline"]


class Timeline:
    """(namespace, pod name) -> {milestone: time.time()} with the first time of each.

    Milestones: "created" (first seen), "scheduled", "unschedulable", "running",
    "ready", "failed" (an error state became visible in the status), "deleted".
    A pod created again under the same name starts a fresh entry.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def start(self, key: tuple[str, str]) -> None:
        """Begin a fresh entry for a newly created pod."""
        self._entries[key] = {"created": time.time()}

    def record(self, key: tuple[str, str], milestone: str) -> None:
        """Record the first time a pod reached a milestone; later calls keep the first."""
        self._entries.setdefault(key, {}).setdefault(milestone, time.time())

    def view(self) -> Mapping[tuple[str, str], Mapping[str, float]]:
        """Return the entries (a live, read-only view: do not mutate)."""
        return self._entries
