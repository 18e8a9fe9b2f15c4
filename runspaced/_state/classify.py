"""Classification of one pod snapshot into the verdict a waiting caller needs.

`classify_pod` is a pure function of the pod as the API server sends it: a dict with
camelCase keys (a full object, or the slim copy the watch keeps). It never raises on
missing fields, because real pods omit most of them at some point of their life.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
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
_EMPTY: Mapping[str, Any] = MappingProxyType({})


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
    init_views = _views(status.get("initContainerStatuses"))
    views = _views(status.get("containerStatuses"))

    if metadata.get("deletionTimestamp"):
        progress = _progress_phase(pod, conditions, init_views, views)
        return Verdict(
            RunspaceState.TERMINATING, "Terminating", "the pod is being deleted", progress
        )

    if phase_name == "Failed":
        reason, message = _failed_reason(status, init_views, views)
        progress = _progress_phase(pod, conditions, init_views, views)
        return Verdict(RunspaceState.ERROR, reason, message, progress)

    if phase_name == "Succeeded":
        progress = _progress_phase(pod, conditions, init_views, views)
        disruption = conditions.get("DisruptionTarget")
        if disruption is not None and disruption.get("reason"):
            return Verdict(
                RunspaceState.ERROR, disruption["reason"], disruption.get("message"), progress
            )
        exited = _terminated_reason(views)
        reason = exited[0] if exited else "Completed"
        message = exited[1] if exited else None
        return Verdict(
            RunspaceState.ERROR, reason, message or "the runspace container exited", progress
        )

    failure = _container_failure(init_views, views)
    if failure is not None:
        progress = _progress_phase(pod, conditions, init_views, views)
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

    progress = _progress_phase(pod, conditions, init_views, views)
    waiting_reason, waiting_message = _waiting_detail(init_views, views, conditions)
    return Verdict(RunspaceState.CREATING, waiting_reason, waiting_message, progress)


class _ContainerView:
    """One container status with its state entries looked up once."""

    __slots__ = ("raw", "running", "terminated", "waiting")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        state = _mapping(raw.get("state"))
        self.raw = raw
        self.waiting = _mapping_or_none(state.get("waiting"))
        self.running = _mapping_or_none(state.get("running"))
        self.terminated = _mapping_or_none(state.get("terminated"))

    @property
    def has_started(self) -> bool:
        """True once the container ran at least once, so its image was pulled."""
        if self.running is not None or self.terminated is not None:
            return True
        return bool(_mapping(self.raw.get("lastState")).get("terminated"))


# Decoded JSON is made of plain dicts, and `type(x) is dict` is a fast C check where
# `isinstance(x, Mapping)` runs the slower ABC machinery, so dicts are tried first.
# Other Mapping types are still accepted.
def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)


def _mapping(value: object) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    return value if isinstance(value, Mapping) else _EMPTY


def _mapping_or_none(value: object) -> Mapping[str, Any] | None:
    return value if _is_mapping(value) else None


def _sequence(value: object) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return ()
    return [item for item in value if _is_mapping(item)]


def _views(value: object) -> list[_ContainerView]:
    if not value or not isinstance(value, list | tuple):
        return []
    return [_ContainerView(item) for item in value if _is_mapping(item)]


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    by_type: dict[str, Mapping[str, Any]] = {}
    for condition in _sequence(status.get("conditions")):
        condition_type = condition.get("type")
        if type(condition_type) is str:
            by_type[condition_type] = condition
    return by_type


def _container_failure(
    init_views: Sequence[_ContainerView], views: Sequence[_ContainerView]
) -> tuple[str, str | None] | None:
    # Init containers first: while one of them fails, the app containers only show
    # PodInitializing, so the cause is in initContainerStatuses alone.
    for view in init_views:
        waiting = view.waiting
        if waiting is not None and waiting.get("reason") in FATAL_WAITING_REASONS:
            return waiting["reason"], _container_message(view.raw, waiting)
        terminated = view.terminated
        if terminated is not None and terminated.get("exitCode", 0) != 0:
            return terminated.get("reason") or "Error", _terminated_message(view.raw, terminated)

    for view in views:
        waiting = view.waiting
        if waiting is not None and waiting.get("reason") in FATAL_WAITING_REASONS:
            return waiting["reason"], _container_message(view.raw, waiting)
        terminated = view.terminated
        if terminated is not None:
            return terminated.get("reason") or "Error", _terminated_message(view.raw, terminated)
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


def _terminated_reason(views: Sequence[_ContainerView]) -> tuple[str, str | None] | None:
    for view in views:
        terminated = view.terminated
        if terminated is not None:
            return terminated.get("reason") or "Error", _terminated_message(view.raw, terminated)
    return None


def _failed_reason(
    status: Mapping[str, Any],
    init_views: Sequence[_ContainerView],
    views: Sequence[_ContainerView],
) -> tuple[str, str | None]:
    if status.get("reason"):
        message = status.get("message")
        return status["reason"], message.strip() if isinstance(message, str) else None
    failure = _container_failure(init_views, views)
    if failure is not None:
        return failure
    return "Failed", status.get("message") or "the pod failed"


def _progress_phase(
    pod: _Pod,
    conditions: Mapping[str, Mapping[str, Any]],
    init_views: Sequence[_ContainerView],
    views: Sequence[_ContainerView],
) -> Phase:
    scheduled = conditions.get("PodScheduled")
    node = _mapping(pod.get("spec")).get("nodeName")
    if not node and (scheduled is None or scheduled.get("status") != "True"):
        return Phase.SCHEDULING

    initialized = conditions.get("Initialized")
    if init_views and initialized is not None and initialized.get("status") == "False":
        return Phase.INITIALIZING

    ready = conditions.get("Ready")
    if ready is not None and ready.get("status") == "True":
        return Phase.READY

    # A container that ran at least once is past its image pull.
    if views and all(view.has_started for view in views):
        return Phase.STARTING
    if any(
        view.waiting is not None and view.waiting.get("reason") == "PodInitializing"
        for view in views
    ):
        return Phase.INITIALIZING
    return Phase.PULLING


def _waiting_detail(
    init_views: Sequence[_ContainerView],
    views: Sequence[_ContainerView],
    conditions: Mapping[str, Mapping[str, Any]],
) -> tuple[str | None, str | None]:
    for view in (*init_views, *views):
        waiting = view.waiting
        if waiting is not None and waiting.get("reason"):
            return waiting["reason"], waiting.get("message")

    ready = conditions.get("Ready")
    if ready is not None and ready.get("status") == "False" and ready.get("reason"):
        return ready["reason"], ready.get("message")
    return None, None
