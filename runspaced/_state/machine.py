"""The state machine of one runspace.

`Runspace` is the mutable record the engine owns. The ``apply_*`` functions are its
only transitions. They mutate the record, do no I/O and return the effects (pods to
delete, endpoints to check) that the engine must perform. Times are
`time.monotonic()` seconds, and `wall` is the matching aware UTC datetime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from .._types import Endpoint, Phase, RunspaceInfo, RunspaceState
from .classify import IMAGE_PULL_REASONS
from .records import EventRecord, PodRecord

__all__ = [
    "DeletePod",
    "Effect",
    "Policy",
    "Runspace",
    "VerifyEndpoint",
    "apply_deadlines",
    "apply_delete_requested",
    "apply_event",
    "apply_pod",
    "apply_pod_gone",
    "apply_verification",
    "next_deadline",
]


@dataclass(frozen=True, slots=True)
class Policy:
    """Engine settings the transitions depend on (seconds)."""

    delete_on_failure: bool = True
    image_pull_grace: float = 0.0
    verify_endpoint: bool = False


@dataclass(frozen=True, slots=True)
class DeletePod:
    """Effect: delete the runspace's pod."""

    pod_name: str


@dataclass(frozen=True, slots=True)
class VerifyEndpoint:
    """Effect: check that the endpoint accepts connections, then call `apply_verification`."""

    endpoint: Endpoint


Effect = DeletePod | VerifyEndpoint


@dataclass(slots=True, eq=False)
class Runspace:
    """Engine-side record of one runspace; `snapshot` copies it into a `RunspaceInfo`."""

    id: str
    namespace: str
    image: str
    port: int
    created_at: datetime
    created_mono: float
    creation_deadline: float
    scheduling_deadline: float
    labels: dict[str, str] = field(default_factory=dict)
    state: RunspaceState = RunspaceState.CREATING
    phase: Phase = Phase.SCHEDULING
    phase_entered: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None
    detail: str | None = None
    detail_timestamp: str = ""
    node: str | None = None
    pod_ip: str | None = None
    resource_version: str | None = None
    ready_at: datetime | None = None
    finished_at: datetime | None = None
    unschedulable: bool = False
    pull_error_since: float | None = None
    verifying: bool = False
    pod_seen: bool = False
    pod_gone: bool = False
    create_confirmed_at: float | None = None
    delete_requested: bool = False
    cleanup_requested: bool = False
    # Bumped on every visible change; equal versions mean equal snapshots.
    version: int = 0

    @property
    def pod_name(self) -> str:
        return self.id

    def snapshot(self) -> RunspaceInfo:
        """Return an immutable copy for callers outside the engine."""
        endpoint = None
        if self.state is RunspaceState.READY and self.pod_ip:
            endpoint = Endpoint(self.pod_ip, self.port)
        return RunspaceInfo(
            id=self.id,
            pod_name=self.id,
            namespace=self.namespace,
            state=self.state,
            phase=self.phase,
            image=self.image,
            reason=self.reason,
            message=self.message,
            detail=self.detail,
            endpoint=endpoint,
            node=self.node,
            pod_ip=self.pod_ip,
            created_at=self.created_at,
            ready_at=self.ready_at,
            finished_at=self.finished_at,
            labels=MappingProxyType(dict(self.labels)),
            resource_version=self.resource_version,
            phase_seconds=MappingProxyType(dict(self.phase_seconds)),
        )


def _enter_phase(runspace: Runspace, phase: Phase, now: float) -> None:
    if phase is runspace.phase:
        return
    spent = max(0.0, now - runspace.phase_entered)
    key = runspace.phase.value
    runspace.phase_seconds[key] = round(runspace.phase_seconds.get(key, 0.0) + spent, 6)
    runspace.phase = phase
    runspace.phase_entered = now


def _close_phase(runspace: Runspace, now: float) -> None:
    """Add the time spent in the current phase, at an outcome."""
    spent = max(0.0, now - runspace.phase_entered)
    key = runspace.phase.value
    runspace.phase_seconds[key] = round(runspace.phase_seconds.get(key, 0.0) + spent, 6)
    runspace.phase_entered = now


def _fail(
    runspace: Runspace,
    state: RunspaceState,
    reason: str | None,
    message: str | None,
    now: float,
    wall: datetime,
    policy: Policy,
) -> list[Effect]:
    _close_phase(runspace, now)
    runspace.state = state
    runspace.reason = reason
    runspace.message = message
    runspace.finished_at = wall
    runspace.version += 1
    if policy.delete_on_failure and not runspace.cleanup_requested and not runspace.pod_gone:
        runspace.cleanup_requested = True
        return [DeletePod(runspace.id)]
    return []


def _become_ready(runspace: Runspace, now: float, wall: datetime) -> None:
    _enter_phase(runspace, Phase.READY, now)
    runspace.state = RunspaceState.READY
    runspace.reason = None
    runspace.message = None
    runspace.ready_at = wall
    runspace.verifying = False
    runspace.version += 1


def apply_pod(
    runspace: Runspace, record: PodRecord, now: float, wall: datetime, policy: Policy
) -> list[Effect]:
    """Apply one pod snapshot (from an event or a list)."""
    before = (runspace.node, runspace.pod_ip, runspace.phase, runspace.reason, runspace.message)
    runspace.pod_seen = True
    runspace.resource_version = record.resource_version
    runspace.node = record.node or runspace.node
    runspace.pod_ip = record.pod_ip or runspace.pod_ip
    verdict = record.verdict
    effects: list[Effect] = []

    if runspace.state in (RunspaceState.ERROR, RunspaceState.TIMEOUT, RunspaceState.DELETED):
        # The outcome is final; later pod updates (e.g. our own cleanup) change nothing.
        pass
    elif runspace.state is RunspaceState.TERMINATING:
        pass
    elif verdict.state is RunspaceState.TERMINATING:
        if not runspace.delete_requested:
            _close_phase(runspace, now)
            runspace.state = RunspaceState.TERMINATING
            runspace.reason = "PodDeleted"
            runspace.message = "the pod is being deleted by someone other than runspaced"
            runspace.finished_at = runspace.finished_at or wall
            runspace.version += 1
    elif verdict.state is RunspaceState.READY:
        if runspace.state is RunspaceState.CREATING:
            if policy.verify_endpoint and runspace.pod_ip:
                if not runspace.verifying:
                    runspace.verifying = True
                    _enter_phase(runspace, Phase.VERIFYING, now)
                    runspace.reason = None
                    runspace.message = None
                    effects.append(VerifyEndpoint(Endpoint(runspace.pod_ip, runspace.port)))
            else:
                _become_ready(runspace, now, wall)
    elif verdict.state is RunspaceState.ERROR:
        in_grace = (
            runspace.state is RunspaceState.CREATING
            and verdict.reason in IMAGE_PULL_REASONS
            and policy.image_pull_grace > 0
        )
        if in_grace:
            if runspace.pull_error_since is None:
                runspace.pull_error_since = now
            runspace.reason = verdict.reason
            runspace.message = verdict.message
            _enter_phase(runspace, verdict.phase, now)
            if now - runspace.pull_error_since >= policy.image_pull_grace:
                effects += _fail(
                    runspace,
                    RunspaceState.ERROR,
                    verdict.reason,
                    verdict.message,
                    now,
                    wall,
                    policy,
                )
        else:
            effects += _fail(
                runspace, RunspaceState.ERROR, verdict.reason, verdict.message, now, wall, policy
            )
    elif runspace.state is RunspaceState.CREATING:
        if verdict.reason not in IMAGE_PULL_REASONS:
            runspace.pull_error_since = None
        runspace.unschedulable = verdict.reason == "Unschedulable"
        if not runspace.verifying:
            _enter_phase(runspace, verdict.phase, now)
            runspace.reason = verdict.reason
            runspace.message = verdict.message
    # A READY runspace whose pod turns not-ready again stays READY: readiness probes flap.

    after = (runspace.node, runspace.pod_ip, runspace.phase, runspace.reason, runspace.message)
    if after != before:
        runspace.version += 1
    return effects


def apply_pod_gone(runspace: Runspace, now: float, wall: datetime) -> list[Effect]:
    """Apply the disappearance of the pod (DELETED event, or missing from a relist)."""
    runspace.pod_gone = True
    if runspace.state in (RunspaceState.ERROR, RunspaceState.TIMEOUT, RunspaceState.DELETED):
        return []
    by_someone_else = not runspace.delete_requested
    if by_someone_else and not (runspace.state is RunspaceState.TERMINATING and runspace.reason):
        runspace.reason = "PodDeleted"
        runspace.message = "the pod was deleted by someone other than runspaced"
    if runspace.state in (RunspaceState.CREATING, RunspaceState.READY):
        _close_phase(runspace, now)
    runspace.state = RunspaceState.DELETED
    runspace.finished_at = runspace.finished_at or wall
    runspace.version += 1
    return []


def apply_delete_requested(runspace: Runspace, now: float, wall: datetime) -> list[Effect]:
    """Apply the caller's delete request; idempotent."""
    if runspace.state is RunspaceState.DELETED:
        return []
    runspace.delete_requested = True
    if runspace.state in (RunspaceState.CREATING, RunspaceState.READY):
        _close_phase(runspace, now)
        runspace.finished_at = runspace.finished_at or wall
    if runspace.pod_gone:
        runspace.state = RunspaceState.DELETED
        runspace.version += 1
        return []
    if runspace.state is not RunspaceState.TERMINATING:
        runspace.state = RunspaceState.TERMINATING
        runspace.version += 1
    if runspace.cleanup_requested:
        # The engine already deletes this failed pod, and retries until it succeeds.
        return []
    return [DeletePod(runspace.id)]


def apply_deadlines(runspace: Runspace, now: float, wall: datetime, policy: Policy) -> list[Effect]:
    """Fail the runspace if one of its deadlines has passed."""
    if runspace.state is not RunspaceState.CREATING:
        return []
    grace_started = runspace.pull_error_since
    if grace_started is not None and now - grace_started >= policy.image_pull_grace:
        return _fail(
            runspace, RunspaceState.ERROR, runspace.reason, runspace.message, now, wall, policy
        )
    if runspace.unschedulable and now >= runspace.scheduling_deadline:
        limit = runspace.scheduling_deadline - runspace.created_mono
        message = f"{runspace.message or 'no node fits the pod'} (gave up after {limit:g} s)"
        return _fail(runspace, RunspaceState.ERROR, "Unschedulable", message, now, wall, policy)
    if now >= runspace.creation_deadline:
        limit = runspace.creation_deadline - runspace.created_mono
        where = runspace.phase.value
        if runspace.reason:
            where += f": {runspace.reason}"
        message = f"not ready within {limit:g} s (last phase {where})"
        return _fail(runspace, RunspaceState.TIMEOUT, "CreationTimeout", message, now, wall, policy)
    return []


def next_deadline(runspace: Runspace, policy: Policy) -> float | None:
    """Return the earliest monotonic time at which `apply_deadlines` may change the runspace."""
    if runspace.state is not RunspaceState.CREATING:
        return None
    candidates = [runspace.creation_deadline]
    if runspace.unschedulable:
        candidates.append(runspace.scheduling_deadline)
    if runspace.pull_error_since is not None:
        candidates.append(runspace.pull_error_since + policy.image_pull_grace)
    return min(candidates)


def apply_verification(
    runspace: Runspace, ok: bool, message: str | None, now: float, wall: datetime, policy: Policy
) -> list[Effect]:
    """Apply the result of an endpoint check started by a `VerifyEndpoint` effect."""
    if runspace.state is not RunspaceState.CREATING or not runspace.verifying:
        return []
    if ok:
        _become_ready(runspace, now, wall)
        return []
    runspace.verifying = False
    return _fail(runspace, RunspaceState.ERROR, "EndpointUnreachable", message, now, wall, policy)


def apply_event(runspace: Runspace, event: EventRecord) -> bool:
    """Record a newer Kubernetes Event as the runspace's detail; return True if it changed."""
    if event.timestamp < runspace.detail_timestamp:
        return False
    text = event.text
    runspace.detail_timestamp = event.timestamp
    if text == runspace.detail:
        return False
    runspace.detail = text
    runspace.version += 1
    return True
