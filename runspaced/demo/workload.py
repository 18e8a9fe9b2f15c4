"""The demo's workload: the images it requests and the outcome each should produce.

The simulated cluster decides an image's fate from its name (`runspaced.sim.images`):
a repository containing ``does-not-exist`` never pulls, one containing ``crashloop``
exits 1 after it starts, an uppercase repository fails the image reference grammar.
The demo adds one runspace that requests more cpu than any simulated node has, which
only a scheduling deadline turns into an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import Resources, RunspaceSpec, RunspaceState

__all__ = ["Case", "build_workload"]

# Simulated nodes have 4 cpu each (runspaced.sim.nodeinfo.NodeSpec), so no node fits 64.
HUGE_CPU = "64"


@dataclass(frozen=True, slots=True)
class Case:
    """One runspace of the demo and the outcome its image should produce.

    `reasons` lists the acceptable Kubernetes reasons; it is empty for a case expected
    to become READY, whose endpoint must also respond to ``GET /``.
    """

    kind: str
    spec: RunspaceSpec
    expected_state: RunspaceState
    reasons: frozenset[str] = field(default_factory=frozenset)

    @property
    def expectation(self) -> str:
        """The expected outcome in words, e.g. ``error (ErrImagePull|ImagePullBackOff)``."""
        if not self.reasons:
            return self.expected_state.value
        return f"{self.expected_state.value} ({'|'.join(sorted(self.reasons))})"

    def matches(self, state: RunspaceState, reason: str | None) -> bool:
        """Return True when the outcome `state` and `reason` are the expected ones."""
        if state is not self.expected_state:
            return False
        return not self.reasons or reason in self.reasons


# Images the simulator pulls and runs until stopped; the pull time depends on the name.
_STARTING_IMAGES: Sequence[str] = (
    "python:3.12-slim",
    "nginx:1.27",
    "redis:7.4",
    "node:22-alpine",
    "ghcr.io/example/notebook:2.1",
    "busybox:1.36",
    "golang:1.23",
    "postgres:16",
    "registry.example.com/team/sandbox:0.9",
    "httpd:2.4",
)


def _starting(index: int) -> Case:
    image = _STARTING_IMAGES[index % len(_STARTING_IMAGES)]
    return Case("starts", RunspaceSpec(image=image), RunspaceState.READY)


def _failing_cases(scheduling_timeout: float) -> list[Case]:
    return [
        Case(
            "image does not exist",
            RunspaceSpec(image="sim/does-not-exist:1.0"),
            RunspaceState.ERROR,
            frozenset({"ErrImagePull", "ImagePullBackOff"}),
        ),
        Case(
            "invalid image name",
            RunspaceSpec(image="sim/Uppercase-Repo:1.0"),
            RunspaceState.ERROR,
            frozenset({"InvalidImageName"}),
        ),
        # The engine's pods use restartPolicy Never, so the exit shows as reason Error;
        # a pod that restarts would show CrashLoopBackOff instead.
        Case(
            "container crashes",
            RunspaceSpec(image="sim/crashloop:1.0"),
            RunspaceState.ERROR,
            frozenset({"Error", "CrashLoopBackOff"}),
        ),
        Case(
            "too much cpu",
            RunspaceSpec(
                image="python:3.12-slim",
                resources=Resources(
                    requests={"cpu": HUGE_CPU, "memory": "128Mi"},
                    limits={"cpu": HUGE_CPU, "memory": "512Mi"},
                ),
                scheduling_timeout=scheduling_timeout,
            ),
            RunspaceState.ERROR,
            frozenset({"Unschedulable"}),
        ),
    ]


def build_workload(count: int, *, scheduling_timeout: float = 3.0) -> list[Case]:
    """Return `count` cases: one of each failure kind, the rest images that start.

    The failing cases sit at odd positions so the live view mixes them with the
    others. With fewer than five runspaces the list is cut short, starting cases first.
    Raises ValueError when `count` is below 1.
    """
    if count < 1:
        raise ValueError(f"invalid runspace count {count}: must be at least 1")

    failing = _failing_cases(scheduling_timeout)
    cases: list[Case] = []
    started = 0
    while len(cases) < count:
        if len(cases) % 2 == 1 and failing:
            cases.append(failing.pop(0))
        else:
            cases.append(_starting(started))
            started += 1
    return cases
