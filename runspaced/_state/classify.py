"""Classification of one pod snapshot into the verdict a waiting caller needs.

`classify_pod` is a pure function of the pod as the API server sends it: a dict with
camelCase keys (a full object, or the slim copy the watch keeps). It never raises on
missing fields, because real pods omit most of them at some point of their life.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeGuard

from .._types import Phase, RunspaceState, Verdict

__all__ = ["FATAL_WAITING_REASONS", "IMAGE_PULL_REASONS", "ReadyWhen", "classify_pod"]

ReadyWhen = Literal["ready", "ip"]

# Waiting reasons that mean the container will not start without outside help. The
# kubelet retries some of them (pulls, CrashLoopBackOff), but a caller waiting for a
# runspace should hear about them at once.
IMAGE_PULL_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
        "ImageInspectError",
        "SignatureValidationFailed",
    }
)
FATAL_WAITING_REASONS = IMAGE_PULL_REASONS | frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "CrashLoopBackOff",
        "PreStartHookError",
        "PostStartHookError",
    }
)

_Pod = Mapping[str, Any]


def classify_pod(pod: _Pod, *, ready_when: ReadyWhen = "ready") -> Verdict:
    """Classify one pod snapshot as creating, ready, error or terminating.

    Rules, first match wins:

    1. ``metadata.deletionTimestamp`` set: TERMINATING, whatever the status reports.
    2. Phase Failed: ERROR with ``status.reason`` (Evicted, ...) or the failing
       container's terminated reason. Phase Succeeded: ERROR, because a runspace must
       keep running, with the DisruptionTarget condition's reason when present.
    3. Any container or init container waiting with a reason in
       `FATAL_WAITING_REASONS`, an app container that terminated, or an init container
       that terminated non-zero: ERROR with that reason and the kubelet's message.
    4. PodScheduled False with reason Unschedulable: CREATING with that reason and the
       scheduler's message (the engine's scheduling deadline decides when to give up).
    5. Ready: phase Running, podIP set and the Ready condition True. With
       ``ready_when="ip"`` phase Running and a podIP are enough.
    6. Otherwise CREATING, with the phase reached and the most telling waiting reason.
    """
    metadata = _mapping(pod.get("metadata"))
    status = _mapping(pod.get("status"))
    phase_name = status.get("phase")
    conditions = _conditions(status)
    init_statuses = _sequence(status.get("initContainerStatuses"))
    statuses = _sequence(status.get("containerStatuses"))
    progress = _progress_phase(pod, conditions, init_statuses, statuses)

    if metadata.get("deletionTimestamp"):
        return Verdict(
            RunspaceState.TERMINATING, "Terminating", "the pod is being deleted", progress
        )

    if phase_name == "Failed":
        reason, message = _failed_reason(status, init_statuses, statuses)
        return Verdict(RunspaceState.ERROR, reason, message, progress)

    if phase_name == "Succeeded":
        disruption = conditions.get("DisruptionTarget")
        if disruption is not None and disruption.get("reason"):
            return Verdict(
                RunspaceState.ERROR, disruption["reason"], disruption.get("message"), progress
            )
        exited = _terminated_reason(statuses)
        reason = exited[0] if exited else "Completed"
        message = exited[1] if exited else None
        return Verdict(
            RunspaceState.ERROR, reason, message or "the runspace container exited", progress
        )

    failure = _container_failure(init_statuses, statuses)
    if failure is not None:
        return Verdict(RunspaceState.ERROR, failure[0], failure[1], progress)

    scheduled = conditions.get("PodScheduled")
    if (
        scheduled is not None
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
    ):
        return Verdict(
            RunspaceState.CREATING, "Unschedulable", scheduled.get("message"), Phase.SCHEDULING
        )

    if phase_name == "Running" and status.get("podIP"):
        ready = conditions.get("Ready")
        if ready_when == "ip" or (ready is not None and ready.get("status") == "True"):
            return Verdict(RunspaceState.READY, None, None, Phase.READY)

    waiting_reason, waiting_message = _waiting_detail(init_statuses, statuses, conditions)
    return Verdict(RunspaceState.CREATING, waiting_reason, waiting_message, progress)


# Decoded JSON is made of plain dicts, and `isinstance(x, dict)` is a fast C check
# where `isinstance(x, Mapping)` runs the slower ABC machinery, so dicts are tried
# first. Other Mapping types are still accepted.
def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, dict | Mapping)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if _is_mapping(value) else {}


def _sequence(value: object) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return ()
    return [item for item in value if _is_mapping(item)]


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        condition["type"]: condition
        for condition in _sequence(status.get("conditions"))
        if isinstance(condition.get("type"), str)
    }


def _state_of(container: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    state = _mapping(container.get("state"))
    value = state.get(key)
    return value if _is_mapping(value) else None


def _container_failure(
    init_statuses: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]]
) -> tuple[str, str | None] | None:
    # Init containers first: while one of them fails, the app containers only show
    # PodInitializing, so the cause is in initContainerStatuses alone.
    for container in init_statuses:
        waiting = _state_of(container, "waiting")
        if waiting is not None and waiting.get("reason") in FATAL_WAITING_REASONS:
            return waiting["reason"], _container_message(container, waiting)
        terminated = _state_of(container, "terminated")
        if terminated is not None and terminated.get("exitCode", 0) != 0:
            return terminated.get("reason") or "Error", _terminated_message(container, terminated)

    for container in statuses:
        waiting = _state_of(container, "waiting")
        if waiting is not None and waiting.get("reason") in FATAL_WAITING_REASONS:
            return waiting["reason"], _container_message(container, waiting)
        terminated = _state_of(container, "terminated")
        if terminated is not None:
            return terminated.get("reason") or "Error", _terminated_message(container, terminated)
    return None


def _container_message(container: Mapping[str, Any], waiting: Mapping[str, Any]) -> str | None:
    message = waiting.get("message")
    if waiting.get("reason") != "CrashLoopBackOff":
        return message if isinstance(message, str) else None

    # The back-off message only names the container: the cause is in lastState.
    last = _mapping(_mapping(container.get("lastState")).get("terminated"))
    if last:
        cause = f"last exit: {last.get('reason') or 'Error'} (exit code {last.get('exitCode')})"
        return f"{message}; {cause}" if message else cause
    return message if isinstance(message, str) else None


def _terminated_message(container: Mapping[str, Any], terminated: Mapping[str, Any]) -> str:
    name = container.get("name", "?")
    text = f"container {name} terminated with exit code {terminated.get('exitCode')}"
    message = terminated.get("message")
    return f"{text}: {message}" if message else text


def _terminated_reason(
    statuses: Sequence[Mapping[str, Any]],
) -> tuple[str, str | None] | None:
    for container in statuses:
        terminated = _state_of(container, "terminated")
        if terminated is not None:
            return terminated.get("reason") or "Error", _terminated_message(container, terminated)
    return None


def _failed_reason(
    status: Mapping[str, Any],
    init_statuses: Sequence[Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
) -> tuple[str, str | None]:
    if status.get("reason"):
        message = status.get("message")
        return status["reason"], message.strip() if isinstance(message, str) else None
    failure = _container_failure(init_statuses, statuses)
    if failure is not None:
        return failure
    return "Failed", status.get("message") or "the pod failed"


def _progress_phase(
    pod: _Pod,
    conditions: Mapping[str, Mapping[str, Any]],
    init_statuses: Sequence[Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
) -> Phase:
    scheduled = conditions.get("PodScheduled")
    node = _mapping(pod.get("spec")).get("nodeName")
    if not node and (scheduled is None or scheduled.get("status") != "True"):
        return Phase.SCHEDULING

    initialized = conditions.get("Initialized")
    if init_statuses and initialized is not None and initialized.get("status") == "False":
        return Phase.INITIALIZING

    ready = conditions.get("Ready")
    if ready is not None and ready.get("status") == "True":
        return Phase.READY

    # A container that ran at least once is past its image pull.
    if statuses and all(_has_started(c) for c in statuses):
        return Phase.STARTING
    if any(_waiting_reason(c) == "PodInitializing" for c in statuses):
        return Phase.INITIALIZING
    return Phase.PULLING


def _has_started(container: Mapping[str, Any]) -> bool:
    if _state_of(container, "running") is not None:
        return True
    if _state_of(container, "terminated") is not None:
        return True
    return bool(_mapping(container.get("lastState")).get("terminated"))


def _waiting_reason(container: Mapping[str, Any]) -> str | None:
    waiting = _state_of(container, "waiting")
    return waiting.get("reason") if waiting is not None else None


def _waiting_detail(
    init_statuses: Sequence[Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
    conditions: Mapping[str, Mapping[str, Any]],
) -> tuple[str | None, str | None]:
    for container in (*init_statuses, *statuses):
        waiting = _state_of(container, "waiting")
        if waiting is not None and waiting.get("reason"):
            return waiting["reason"], waiting.get("message")

    ready = conditions.get("Ready")
    if ready is not None and ready.get("status") == "False" and ready.get("reason"):
        return ready["reason"], ready.get("message")
    return None, None
