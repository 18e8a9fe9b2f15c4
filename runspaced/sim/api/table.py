"""The Table form (meta.k8s.io/v1) that ``kubectl get`` requests.

Columns follow the real server's printers for pods, events, namespaces and nodes; other
kinds get Name and Age. Rows carry the object as PartialObjectMetadata unless
``includeObject=Object`` (full object) or ``None`` (no object) is requested.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..resources import Resource

__all__ = ["list_table", "object_table", "wants_table"]

JsonObject = dict[str, Any]

_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}


def wants_table(accept: str) -> bool:
    """Return True when the Accept header requests a meta.k8s.io Table."""
    return "as=Table" in accept.replace(" ", "")


def _column(
    name: str, kind: str = "string", priority: int = 0, description: str = ""
) -> JsonObject:
    return {
        "name": name,
        "type": kind,
        "format": "",
        "description": description,
        "priority": priority,
    }


def human_age(timestamp: str | None) -> str:
    """Return a kubectl-style age such as ``5s``, ``3m12s``, ``2d``; ``<unknown>`` if unset."""
    if not timestamp:
        return "<unknown>"
    created = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(int((datetime.now(UTC) - created).total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _pod_status(pod: JsonObject) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    spec = pod.get("spec") or {}
    init_total = len(spec.get("initContainers") or [])
    for index, init in enumerate(status.get("initContainerStatuses") or []):
        state = init.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + (
                terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
            )
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{init_total}"
        break
    else:
        for container in reversed(status.get("containerStatuses") or []):
            state = container.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                reason = f"ExitCode:{state['terminated'].get('exitCode')}"
    if (pod.get("metadata") or {}).get("deletionTimestamp") and status.get("reason") != "NodeLost":
        reason = "Terminating"
    return str(reason)


def _pod_cells(pod: JsonObject) -> list[Any]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        restarts,
        human_age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _node_cells(node: JsonObject) -> list[Any]:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    status = "Unknown"
    if ready is not None:
        status = "Ready" if ready.get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    info = (node.get("status") or {}).get("nodeInfo") or {}
    addresses = (node.get("status") or {}).get("addresses") or []

    def address(kind: str) -> str:
        found = next((a.get("address") for a in addresses if a.get("type") == kind), None)
        return found or "<none>"

    return [
        node["metadata"]["name"],
        status,
        "<none>",
        human_age(node["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_cells(event: JsonObject) -> list[Any]:
    involved = event.get("involvedObject") or {}
    return [
        human_age(event.get("lastTimestamp") or event["metadata"].get("creationTimestamp")),
        event.get("type", ""),
        event.get("reason", ""),
        f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
        event.get("message", ""),
    ]


_COLUMNS: dict[str, tuple[list[JsonObject], Any]] = {
    "pods": (
        [
            _NAME_COLUMN,
            _column("Ready", description="The aggregate readiness state of this pod"),
            _column("Status", description="The aggregate status of the containers in this pod."),
            _column("Restarts", description="The number of times the containers restarted."),
            _column("Age", description="CreationTimestamp"),
            _column("IP", priority=1, description="The IP address assigned to the pod"),
            _column("Node", priority=1, description="The node the pod is assigned to"),
            _column("Nominated Node", priority=1, description="The nominated node"),
            _column("Readiness Gates", priority=1, description="The readiness gates"),
        ],
        _pod_cells,
    ),
    "nodes": (
        [
            _NAME_COLUMN,
            _column("Status"),
            _column("Roles"),
            _column("Age"),
            _column("Version"),
            _column("Internal-IP", priority=1),
            _column("External-IP", priority=1),
            _column("OS-Image", priority=1),
            _column("Kernel-Version", priority=1),
            _column("Container-Runtime", priority=1),
        ],
        _node_cells,
    ),
    "events": (
        [
            _column("Last Seen"),
            _column("Type"),
            _column("Reason"),
            _column("Object"),
            _column("Message"),
        ],
        _event_cells,
    ),
    "namespaces": (
        [_NAME_COLUMN, _column("Status"), _column("Age")],
        lambda ns: [
            ns["metadata"]["name"],
            (ns.get("status") or {}).get("phase", ""),
            human_age(ns["metadata"].get("creationTimestamp")),
        ],
    ),
}
_DEFAULT_COLUMNS: tuple[list[JsonObject], Any] = (
    [_NAME_COLUMN, _column("Age")],
    lambda obj: [obj["metadata"]["name"], human_age(obj["metadata"].get("creationTimestamp"))],
)


def _row(resource: Resource, obj: JsonObject, include: str) -> JsonObject:
    _, cells = _COLUMNS.get(resource.plural, _DEFAULT_COLUMNS)
    row: JsonObject = {"cells": cells(obj)}
    if include == "Object":
        row["object"] = {"kind": resource.kind, "apiVersion": resource.api_version, **obj}
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return row


def _table(resource: Resource, rows: list[JsonObject], metadata: JsonObject) -> JsonObject:
    columns, _ = _COLUMNS.get(resource.plural, _DEFAULT_COLUMNS)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }


def list_table(resource: Resource, body: JsonObject, query: Any) -> JsonObject:
    """Return a list body rendered as a Table with the same list metadata."""
    include = query.get("includeObject", "")
    rows = [_row(resource, item, include) for item in body["items"]]
    return _table(resource, rows, body["metadata"])


def object_table(resource: Resource, obj: JsonObject, query: Any) -> JsonObject:
    """Return one object rendered as a one-row Table."""
    include = query.get("includeObject", "")
    plain = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    metadata = {"resourceVersion": plain.get("metadata", {}).get("resourceVersion", "")}
    return _table(resource, [_row(resource, plain, include)], metadata)


def watch_table(resource: Resource, obj: JsonObject, query: Any) -> JsonObject:
    """Return a watch event's object rendered as a one-row Table."""
    return object_table(resource, obj, query)
