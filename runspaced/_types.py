"""Immutable value types that cross module boundaries.

Nothing here performs I/O. `RunspaceSpec` is what a caller asks for, `RunspaceInfo`
is a snapshot of one runspace as the engine tracks it, and `Verdict` is what
`classify_pod` returns for one pod object.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

__all__ = [
    "Endpoint",
    "Phase",
    "Resources",
    "RunspaceChange",
    "RunspaceInfo",
    "RunspaceSpec",
    "RunspaceState",
    "Verdict",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_SECONDS: Mapping[str, float] = MappingProxyType({})


class RunspaceState(enum.StrEnum):
    """Lifecycle state of one runspace.

    Legal transitions (anything else is a bug in the state machine):

    - CREATING -> READY | ERROR | TIMEOUT | TERMINATING | DELETED
    - READY -> ERROR | TERMINATING | DELETED (a ready pod can still crash or be evicted)
    - ERROR, TIMEOUT -> TERMINATING | DELETED (only on `delete()`)
    - TERMINATING -> DELETED

    ERROR and TIMEOUT keep their reason while the engine deletes the failed pod, so a
    late caller still learns why. TERMINATING without a `delete()` call means someone
    else is deleting the pod (reason PodDeleted). Every state but CREATING resolves
    waiters, and only READY resolves them successfully. DELETED is final.
    """

    CREATING = "creating"
    READY = "ready"
    ERROR = "error"
    TIMEOUT = "timeout"
    TERMINATING = "terminating"
    DELETED = "deleted"

    @property
    def is_outcome(self) -> bool:
        """True for the states that resolve a waiter."""
        return self in _OUTCOMES


_OUTCOMES = frozenset(
    {RunspaceState.READY, RunspaceState.ERROR, RunspaceState.TIMEOUT, RunspaceState.DELETED}
)


class Phase(enum.StrEnum):
    """Step a runspace has reached on its way to READY.

    SCHEDULING: no node yet. INITIALIZING: init containers run. PULLING: the node
    prepares the sandbox and pulls images (the kubelet reports ContainerCreating for
    both). STARTING: containers run but the pod is not Ready yet (probes). VERIFYING:
    the engine checks the endpoint itself. READY: usable.
    """

    SCHEDULING = "scheduling"
    INITIALIZING = "initializing"
    PULLING = "pulling"
    STARTING = "starting"
    VERIFYING = "verifying"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Classification of one pod snapshot, as returned by `classify_pod`.

    `reason` is the raw kubelet, scheduler or API reason (e.g. ``ImagePullBackOff``),
    or None when there is nothing to explain. `phase` is the step the pod has reached.
    """

    state: RunspaceState
    reason: str | None
    message: str | None
    phase: Phase


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Network address of a ready runspace."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Resources:
    """Container resource requests and limits as Kubernetes quantities (``"500m"``, ``"256Mi"``)."""

    requests: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    limits: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


DEFAULT_RESOURCES = Resources(
    requests=MappingProxyType({"cpu": "100m", "memory": "128Mi"}),
    limits=MappingProxyType({"cpu": "1", "memory": "512Mi"}),
)


@dataclass(frozen=True, slots=True)
class RunspaceSpec:
    """Request for one runspace: a single container exposing one TCP port.

    Deadlines are in seconds, and None takes the engine's setting. `command` replaces
    the image's entrypoint and `args` its arguments, as in a Kubernetes container.
    `node_selector` constrains scheduling like the pod field of that name.
    """

    image: str
    port: int = 8080
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    resources: Resources = DEFAULT_RESOURCES
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    image_pull_policy: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    creation_timeout: float | None = None
    scheduling_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class RunspaceInfo:
    """Snapshot of one runspace as the engine tracks it.

    Timestamps are timezone-aware UTC. `phase_seconds` maps each finished phase to
    the seconds spent in it. `detail` is the latest Kubernetes Event for the pod
    (e.g. ``Pulling image "python:3.12"``), when the events watch is on.
    `endpoint` is set only while the runspace is READY.
    """

    id: str
    pod_name: str
    namespace: str
    state: RunspaceState
    phase: Phase
    image: str
    reason: str | None = None
    message: str | None = None
    detail: str | None = None
    endpoint: Endpoint | None = None
    node: str | None = None
    pod_ip: str | None = None
    created_at: datetime | None = None
    ready_at: datetime | None = None
    finished_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    resource_version: str | None = None
    phase_seconds: Mapping[str, float] = field(default_factory=lambda: _NO_SECONDS)

    @property
    def is_outcome(self) -> bool:
        """True once the runspace is READY, ERROR, TIMEOUT or DELETED."""
        return self.state.is_outcome


@dataclass(frozen=True, slots=True)
class RunspaceChange:
    """One transition reported by `RunspaceEngine.changes()`.

    `previous` is None for the first snapshot of a runspace. A change of phase or
    detail without a change of state has ``previous.state == info.state``.
    """

    info: RunspaceInfo
    previous: RunspaceInfo | None
    sequence: int

    @property
    def state_changed(self) -> bool:
        """True when the state differs from the previous snapshot."""
        return self.previous is None or self.previous.state != self.info.state
