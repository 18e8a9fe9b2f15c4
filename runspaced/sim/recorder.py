"""Events about pods, recorded the way the kubelet and kube-scheduler record them.

Repeats are aggregated as the client-go event correlator does: the same reason and
message for the same object and source bump ``count`` and ``lastTimestamp`` of the
existing Event (kubectl's "x5 over 2m") instead of creating a new one.

The two sources differ in shape, as on a real cluster:

- kubelet events use the core/v1 recorder: ``source {component, host}``,
  ``firstTimestamp``, ``lastTimestamp``, ``count``, no ``eventTime``.
- kube-scheduler events go through events.k8s.io/v1, so read as core/v1 they carry
  ``eventTime`` (microseconds), ``action``, ``reportingComponent`` and
  ``reportingInstance``, an empty ``source`` and null first/last timestamps; repeats
  are counted in ``series``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import structlog

from .store import AlreadyExists, ObjectStore, now_rfc3339

__all__ = ["EventRecorder", "now_micro"]

log = structlog.get_logger("runspaced.sim.events")

SCHEDULER = "default-scheduler"
KUBELET = "kubelet"
# Aggregation keys remembered; the oldest are forgotten first.
_MAX_REMEMBERED = 50_000


def now_micro() -> str:
    """Return the current UTC time as a MicroTime ("2024-06-08T10:00:00.123456Z")."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventRecorder:
    """Creates and aggregates Events in the store."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._remembered: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._keys_by_uid: dict[str, set[tuple[str, ...]]] = {}
        self._last_ns = 0

    def kubelet(
        self,
        pod: dict[str, Any],
        node: str,
        event_type: str,
        reason: str,
        message: str,
        container: str | None = None,
        init: bool = False,
    ) -> None:
        """Record a kubelet event about a pod, or about one of its containers."""
        involved = _involved(pod)
        if container is not None:
            kind = "initContainers" if init else "containers"
            involved["fieldPath"] = f"spec.{kind}{{{container}}}"
        key = (KUBELET, involved["uid"], involved.get("fieldPath", ""), reason, message)
        if self._repeat(key, involved["namespace"], series=False):
            return
        now = now_rfc3339()
        event = {
            "metadata": {"name": self._name(involved["name"])},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": {"component": KUBELET, "host": node},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": KUBELET,
            "reportingInstance": node,
        }
        self._create(key, involved["namespace"], event)

    def scheduler(
        self, pod: dict[str, Any], event_type: str, reason: str, action: str, message: str
    ) -> None:
        """Record a kube-scheduler event (Scheduled, FailedScheduling) about a pod."""
        involved = _involved(pod)
        key = (SCHEDULER, involved["uid"], "", reason, message)
        if self._repeat(key, involved["namespace"], series=True):
            return
        event = {
            "metadata": {"name": self._name(involved["name"])},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": {},
            "firstTimestamp": None,
            "lastTimestamp": None,
            "type": event_type,
            "eventTime": now_micro(),
            "action": action,
            "reportingComponent": SCHEDULER,
            "reportingInstance": f"{SCHEDULER}-sim-control-plane",
        }
        self._create(key, involved["namespace"], event)

    def forget(self, uid: str) -> None:
        """Drop the aggregation keys of a deleted object."""
        for key in self._keys_by_uid.pop(uid, ()):
            self._remembered.pop(key, None)

    def _repeat(self, key: tuple[str, ...], namespace: str, *, series: bool) -> bool:
        name = self._remembered.get(key)
        if name is None:
            return False

        def bump(event: dict[str, Any]) -> None:
            if series:
                previous = (event.get("series") or {}).get("count", 1)
                event["series"] = {"count": previous + 1, "lastObservedTime": now_micro()}
            else:
                event["count"] = int(event.get("count") or 1) + 1
                event["lastTimestamp"] = now_rfc3339()

        if self._store.update("events", namespace, name, bump) is None:
            # The Event expired or was deleted: record a fresh one.
            del self._remembered[key]
            return False
        self._remembered.move_to_end(key)
        return True

    def _create(self, key: tuple[str, ...], namespace: str, event: dict[str, Any]) -> None:
        try:
            self._store.create("events", namespace, event)
        except AlreadyExists:
            log.warning("sim.event.name_collided", name=event["metadata"]["name"])
            return
        self._remembered[key] = event["metadata"]["name"]
        self._keys_by_uid.setdefault(key[1], set()).add(key)
        if len(self._remembered) > _MAX_REMEMBERED:
            oldest, _ = self._remembered.popitem(last=False)
            self._keys_by_uid.get(oldest[1], set()).discard(oldest)

    def _name(self, object_name: str) -> str:
        # client-go names events "<object>.<hex UnixNano>"; keep the suffix increasing so
        # two events in the same nanosecond do not collide.
        stamp = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = stamp
        return f"{object_name}.{stamp:x}"


def _involved(pod: dict[str, Any]) -> dict[str, Any]:
    metadata = pod.get("metadata", {})
    return {
        "kind": "Pod",
        "namespace": metadata.get("namespace", "default"),
        "name": metadata.get("name", ""),
        "uid": metadata.get("uid", ""),
        "apiVersion": "v1",
        "resourceVersion": metadata.get("resourceVersion", ""),
    }
