"""Counts of API requests by verb and resource, as the apiserver_request_total metric does."""

from __future__ import annotations

from collections import Counter

__all__ = ["RequestCounters"]


class RequestCounters:
    """Request counts keyed by (verb, resource); verbs are the Kubernetes API verbs.

    Verbs: get, list, watch, create, update, patch, delete, deletecollection. Resources
    include the subresource, e.g. ``pods/status``. Admin routes under /_sim/ and
    discovery requests are not counted.
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, verb: str, resource: str) -> None:
        """Count one request."""
        self._counts[(verb, resource)] += 1

    @property
    def total(self) -> int:
        """Number of requests counted since the last reset."""
        return sum(self._counts.values())

    def by_verb(self) -> dict[str, int]:
        """Return request counts per verb, summed over resources."""
        totals: Counter[str] = Counter()
        for (verb, _), count in self._counts.items():
            totals[verb] += count
        return dict(totals)

    def by_resource(self) -> dict[str, dict[str, int]]:
        """Return request counts per resource, then per verb."""
        table: dict[str, dict[str, int]] = {}
        for (verb, resource), count in sorted(self._counts.items()):
            table.setdefault(resource, {})[verb] = count
        return table

    def count(self, verb: str, resource: str | None = None) -> int:
        """Return the count for one verb, on one resource or summed over all."""
        if resource is not None:
            return self._counts[(verb, resource)]
        return sum(c for (v, _), c in self._counts.items() if v == verb)

    def reset(self) -> None:
        """Set every count back to zero."""
        self._counts.clear()

    def __repr__(self) -> str:
        return f"<RequestCounters total={self.total} by_verb={self.by_verb()}>"
