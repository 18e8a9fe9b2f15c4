"""Outcome of each demo runspace, checked against what its image should produce."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .. import RunspaceInfo, RunspaceState
from .probe import ProbeResult
from .workload import Case

__all__ = ["DemoResult", "Outcome", "polling_estimate"]

POLL_INTERVAL_SECONDS = 0.1


@dataclass(slots=True)
class Outcome:
    """The result of one case.

    `info` is the snapshot at the outcome (READY, ERROR, TIMEOUT or DELETED), or None
    when the create request itself was rejected; `reason` and `message` then come
    from the API error. `probe` is set for READY runspaces. `final_state` is the state
    after the demo deleted the runspace (DELETED when the cleanup finished).
    """

    case: Case
    runspace_id: str | None
    info: RunspaceInfo | None
    state: RunspaceState | None
    reason: str | None
    message: str | None
    probe: ProbeResult | None = None
    final_state: RunspaceState | None = None

    @property
    def seconds(self) -> float | None:
        """Seconds from the create request to the outcome, or None when unknown."""
        if self.info is None or self.info.created_at is None:
            return None
        end = self.info.ready_at or self.info.finished_at
        if end is None:
            return None
        return max(0.0, (end - self.info.created_at).total_seconds())

    @property
    def phases(self) -> Mapping[str, float]:
        """Seconds spent in each phase until the outcome."""
        return self.info.phase_seconds if self.info is not None else {}

    def problems(self) -> list[str]:
        """Return what went differently from the case's expectation; empty when all is well."""
        name = self.runspace_id or "(not created)"
        found: list[str] = []
        if self.state is None or not self.case.matches(self.state, self.reason):
            got = self.state.value if self.state is not None else "rejected"
            if self.reason:
                got += f" ({self.reason})"
            found.append(
                f"{name} {self.case.spec.image}: expected {self.case.expectation}, got {got}"
            )
        if self.state is RunspaceState.READY and (self.probe is None or not self.probe.ok):
            answer = self.probe.describe() if self.probe is not None else "not probed"
            found.append(f"{name} {self.case.spec.image}: endpoint check failed: {answer}")
        if self.runspace_id is not None and self.final_state is not RunspaceState.DELETED:
            last = self.final_state.value if self.final_state is not None else "unknown"
            found.append(f"{name} {self.case.spec.image}: not deleted (last state {last})")
        return found


@dataclass(slots=True)
class DemoResult:
    """Everything the demo measured; `problems()` decides the exit status.

    `api_requests` and `requests_by_verb` are the simulated API server's counts of the
    engine's requests (the demo's own pod list at the end is not included).
    `leaked_pods` names the pods a list through the API still returned at the end.
    `errors` lists failures of the run itself (a deadline passed, a list failed).
    """

    outcomes: list[Outcome] = field(default_factory=list)
    api_requests: int = 0
    requests_by_verb: dict[str, int] = field(default_factory=dict)
    leaked_pods: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    time_scale: float = 1.0

    @property
    def polling_estimate(self) -> int:
        """Requests per-waiter polling every 100 ms would have made (see `polling_estimate`)."""
        return polling_estimate(self.outcomes)

    def problems(self) -> list[str]:
        """Return every deviation from the expected run; empty means exit status 0."""
        found = list(self.errors)
        for outcome in self.outcomes:
            found += outcome.problems()
        if self.leaked_pods:
            found.append(f"pods left in the cluster: {', '.join(sorted(self.leaked_pods))}")
        return found


def polling_estimate(outcomes: Sequence[Outcome]) -> int:
    """Estimate the requests of a client that polls each pod every 100 ms until its outcome.

    One create per runspace plus ceil(seconds_to_outcome / 0.1) GETs, at least one,
    because even an instant outcome takes one GET to learn. This is an
    estimate from the measured times: it leaves out the deletes and any retries.
    A runspace without a measured time counts only its create.
    """
    total = 0
    for outcome in outcomes:
        total += 1
        seconds = outcome.seconds
        if seconds is not None:
            total += max(1, math.ceil(seconds / POLL_INTERVAL_SECONDS))
    return total
