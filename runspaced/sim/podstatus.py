"""In-memory status of one pod on a simulated node, rendered in the kubelet's shapes.

The kubelet owns phase, conditions (except PodScheduled), IPs, startTime and container
statuses. `PodRuntime.render` builds those fields; `merge_status` writes them into a
stored pod without touching the fields others own (qosClass, PodScheduled).

Phase follows the kubelet's getPhase: init containers not done keep the pod Pending (an
init container that failed with restartPolicy Never fails it), a waiting container
without a previous termination keeps it Pending, a running container makes it Running,
and when every container has stopped the restart policy decides (Always: Running; Never:
Succeeded when every exit code was 0, else Failed; OnFailure: Succeeded or Running).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .images import ImageBehaviour, image_digest
from .reference import ImageReference, InvalidReference
from .store import now_rfc3339

__all__ = ["ContainerRuntime", "PodRuntime", "merge_status"]

_KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


@dataclass(slots=True)
class ContainerRuntime:
    """One container (or init container) of a pod and its current state."""

    name: str
    spec: dict[str, Any]
    is_init: bool
    reference: ImageReference | None
    invalid: InvalidReference | None
    behaviour: ImageBehaviour | None
    state: dict[str, Any] = field(default_factory=dict)
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    pulled: bool = False
    container_id: str | None = None
    listening: bool = False

    @property
    def image(self) -> str:
        """The image as written in the pod spec."""
        return str(self.spec.get("image", ""))

    @property
    def running(self) -> bool:
        """True while the container process runs."""
        return "running" in self.state

    @property
    def exit_code(self) -> int | None:
        """Exit code of the current termination, None unless terminated."""
        terminated = self.state.get("terminated")
        return None if terminated is None else int(terminated["exitCode"])

    def new_container_id(self) -> str:
        """Assign and return a fresh containerd container ID."""
        self.container_id = "containerd://" + secrets.token_hex(32)
        return self.container_id

    def render(self) -> dict[str, Any]:
        """Return the containerStatuses entry."""
        status: dict[str, Any] = {"name": self.name}
        if self.pulled and self.reference is not None:
            status["image"] = self.reference.canonical
            digest = image_digest(self.reference)
            status["imageID"] = f"{self.reference.repository}@{digest}"
        else:
            status["image"] = self.image
            status["imageID"] = ""
        if self.container_id is not None:
            status["containerID"] = self.container_id
        status["lastState"] = self.last_state
        status["ready"] = self.ready
        status["restartCount"] = self.restart_count
        if not self.is_init:
            status["started"] = self.started
        status["state"] = self.state
        return status


@dataclass(slots=True)
class PodRuntime:
    """A pod bound to a simulated node, as its kubelet sees it."""

    namespace: str
    name: str
    uid: str
    node: str
    restart_policy: str
    init_containers: list[ContainerRuntime]
    containers: list[ContainerRuntime]
    host_ip: str
    pod_ip: str | None = None
    start_time: str | None = None
    sandbox_ready: bool = False
    forced_phase: str | None = None
    reason: str | None = None
    message: str | None = None
    extra_conditions: list[dict[str, Any]] = field(default_factory=list)
    _transitions: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name)."""
        return (self.namespace, self.name)

    @property
    def all_containers(self) -> list[ContainerRuntime]:
        """Init containers first, then app containers."""
        return [*self.init_containers, *self.containers]

    def initialized(self) -> bool:
        """True when every init container exited 0."""
        return all(c.exit_code == 0 for c in self.init_containers)

    def phase(self) -> str:
        """Compute the pod phase from the container states (kubelet getPhase)."""
        if self.forced_phase is not None:
            return self.forced_phase

        pending_init = failed_init = False
        for container in self.init_containers:
            state = container.state
            last_exit = (container.last_state.get("terminated") or {}).get("exitCode", 0)
            if "terminated" in state:
                failed_init = failed_init or state["terminated"]["exitCode"] != 0
            elif "waiting" in state and last_exit != 0:
                failed_init = True
            else:
                pending_init = True
        if failed_init and self.restart_policy == "Never":
            return "Failed"
        if pending_init or failed_init:
            return "Pending"

        running = stopped = succeeded = waiting = 0
        for container in self.containers:
            state = container.state
            if "running" in state:
                running += 1
            elif "terminated" in state:
                stopped += 1
                if state["terminated"]["exitCode"] == 0:
                    succeeded += 1
            elif container.last_state.get("terminated"):
                stopped += 1
            else:
                waiting += 1
        if waiting:
            return "Pending"
        if running:
            return "Running"
        if self.restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if self.restart_policy == "Never":
            return "Failed"
        return "Running"

    def render(self) -> dict[str, Any]:
        """Return the status fields the kubelet owns."""
        phase = self.phase()
        conditions = self._conditions(phase)
        status: dict[str, Any] = {"phase": phase, "conditions": conditions}
        status["hostIP"] = self.host_ip
        status["hostIPs"] = [{"ip": self.host_ip}]
        if self.pod_ip is not None:
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
        if self.start_time is not None:
            status["startTime"] = self.start_time
        if self.init_containers:
            status["initContainerStatuses"] = [c.render() for c in self.init_containers]
        status["containerStatuses"] = [c.render() for c in self.containers]
        if self.reason is not None:
            status["reason"] = self.reason
        if self.message is not None:
            status["message"] = self.message
        return status

    def _conditions(self, phase: str) -> list[dict[str, Any]]:
        rows: list[tuple[str, str, str | None, str | None]] = []
        rows.append(("PodReadyToStartContainers", _flag(self.sandbox_ready), None, None))

        incomplete = [c.name for c in self.init_containers if c.exit_code != 0]
        if incomplete:
            message = f"containers with incomplete status: [{' '.join(incomplete)}]"
            rows.append(("Initialized", "False", "ContainersNotInitialized", message))
        else:
            rows.append(("Initialized", "True", None, None))

        if phase in ("Failed", "Succeeded"):
            terminal = "PodFailed" if phase == "Failed" else "PodCompleted"
            rows.append(("Ready", "False", terminal, None))
            rows.append(("ContainersReady", "False", terminal, None))
        else:
            unready = [c.name for c in self.containers if not c.ready]
            if unready:
                message = f"containers with unready status: [{' '.join(unready)}]"
                rows.append(("Ready", "False", "ContainersNotReady", message))
                rows.append(("ContainersReady", "False", "ContainersNotReady", message))
            else:
                rows.append(("Ready", "True", None, None))
                rows.append(("ContainersReady", "True", None, None))

        conditions = []
        now = now_rfc3339()
        for kind, status, reason, text in rows:
            # lastTransitionTime moves only when the status flips, as the kubelet keeps it.
            previous = self._transitions.get(kind)
            if previous is None or previous[0] != status:
                previous = (status, now)
                self._transitions[kind] = previous
            condition: dict[str, Any] = {
                "type": kind,
                "status": status,
                "lastProbeTime": None,
                "lastTransitionTime": previous[1],
            }
            if reason is not None:
                condition["reason"] = reason
            if text is not None:
                condition["message"] = text
            conditions.append(condition)
        conditions.extend(self.extra_conditions)
        return conditions


def merge_status(pod: dict[str, Any], rendered: dict[str, Any]) -> None:
    """Write the kubelet-owned status fields into a stored pod (in place).

    Conditions the kubelet does not own (PodScheduled) keep their place after the
    kubelet's own ones; extra conditions (DisruptionTarget) replace any of the same type.
    """
    status = pod.setdefault("status", {})
    owned = set(_KUBELET_CONDITIONS)
    incoming = rendered.get("conditions", [])
    incoming_types = {c["type"] for c in incoming}
    others = [
        c
        for c in status.get("conditions") or []
        if c.get("type") not in owned and c.get("type") not in incoming_types
    ]
    merged = dict(rendered)
    merged["conditions"] = [
        *[c for c in incoming if c["type"] in owned],
        *others,
        *[c for c in incoming if c["type"] not in owned],
    ]
    status.update(merged)
    for key in ("podIP", "podIPs", "reason", "message"):
        if key not in rendered:
            status.pop(key, None)


def _flag(value: bool) -> str:
    return "True" if value else "False"
