"""NodeSimulation: the simulated nodes, their scheduler and their kubelets, in one place.

It registers Node objects, watches the store's pod changes through a store listener
and dispatches them:

- a pod without spec.nodeName goes to the scheduler queue;
- a pod bound to a simulated node is admitted by that node's kubelet;
- a bound pod that gets metadata.deletionTimestamp is stopped and then removed by its
  kubelet (pods without a node are removed by the API server itself);
- a pod that reaches phase Succeeded or Failed, or leaves the store, frees its
  requests, which sends the unschedulable pods back to the scheduler.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from .endpoints import EndpointListeners
from .kubelet import Kubelet
from .nodeinfo import NodeSpec, NodeState, build_node_states
from .recorder import EventRecorder
from .scenario import Scenario
from .scheduler import Scheduler, pod_requests
from .store import AlreadyExists, ObjectStore
from .timeline import Timeline

__all__ = ["DEFAULT_EVICTION_MESSAGE", "NodeSimulation", "NodeSpec"]

log = structlog.get_logger("runspaced.sim.nodes")

# The kubelet's eviction message for a node-level memory threshold, trailing space included.
DEFAULT_EVICTION_MESSAGE = (
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
)
_TERMINAL = ("Succeeded", "Failed")


class NodeSimulation:
    """Simulated nodes with a scheduler and kubelets, driven by the store's pod changes."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        nodes: int | Sequence[NodeSpec] = 3,
        scenario: Scenario | None = None,
        time_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        """Prepare the nodes; nothing happens in the store until `run`.

        ``nodes`` is a count of default nodes ("sim-node-1", ...: 4 cpu, 16Gi, 110 pods)
        or explicit specs. ``time_scale`` multiplies every delay (0.01 makes a 10 s
        back-off last 0.1 s). ``seed`` fixes the pod IP ranges (random by default).
        Raises ValueError on a negative time scale or duplicate node names.
        """
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        specs = (
            [NodeSpec(name=f"sim-node-{i}") for i in range(1, nodes + 1)]
            if isinstance(nodes, int)
            else list(nodes)
        )
        if len({spec.name for spec in specs}) != len(specs):
            raise ValueError("node names must be unique")

        self._store = store
        self.time_scale = time_scale
        self.scenario = scenario or Scenario()
        self.node_states: dict[str, NodeState] = {
            state.name: state for state in build_node_states(specs, random.Random(seed))
        }
        self._timeline = Timeline()
        self.listeners = EndpointListeners()
        self._recorder = EventRecorder(store)
        self.scheduler = Scheduler(
            store,
            list(self.node_states.values()),
            self._recorder,
            time_scale=time_scale,
            on_scheduled=lambda key, node: self._timeline.record(key, "scheduled"),
            on_unschedulable=lambda key: self._timeline.record(key, "unschedulable"),
        )
        self.kubelet = Kubelet(
            store,
            self.node_states,
            self._recorder,
            self.scenario,
            self.listeners,
            self._timeline,
            time_scale=time_scale,
        )
        self._running = False

    def __repr__(self) -> str:
        return (
            f"NodeSimulation(nodes={len(self.node_states)}, pods={len(self.kubelet.pods)}, "
            f"pending={self.scheduler.pending}, listeners={len(self.listeners)})"
        )

    @property
    def timeline(self) -> Mapping[tuple[str, str], Mapping[str, float]]:
        """(namespace, pod) -> {"scheduled": t, "ready": t, "failed": t, ...} (time.time())."""
        return self._timeline.view()

    async def run(self) -> None:
        """Register the nodes, then schedule and run pods until cancelled.

        On cancellation every pod task stops and every endpoint listener closes.
        """
        if self._running:
            raise RuntimeError("NodeSimulation.run is already running")
        self._running = True
        for state in self.node_states.values():
            try:
                self._store.create("nodes", None, state.node_object())
            except AlreadyExists:
                log.info("sim.node.existed", node=state.name)
        self._store.add_listener(self._on_change)

        # Pods stored before the simulation started.
        for pod in self._store.list("pods"):
            self._on_change("ADDED", "pods", pod)
        log.info("sim.nodes.started", nodes=sorted(self.node_states), time_scale=self.time_scale)
        try:
            await self.scheduler.run()
        finally:
            self._running = False
            await self.kubelet.shutdown()
            log.info("sim.nodes.stopped")

    def evict(self, namespace: str, name: str, message: str | None = None) -> bool:
        """Evict a pod as the kubelet's eviction manager does; False when it is unknown.

        The pod gets phase Failed, reason Evicted, the message (by default the
        node-level memory form), a DisruptionTarget condition with reason
        TerminationByKubelet, terminated containers and an Evicted Warning event.
        """
        evicted = self.kubelet.evict((namespace, name), message or DEFAULT_EVICTION_MESSAGE)
        if evicted:
            self._timeline.record((namespace, name), "failed")
        return evicted

    def _on_change(self, event_type: str, kind: str, obj: dict[str, Any]) -> None:
        if kind != "pods" or not self._running:
            return
        metadata = obj.get("metadata", {})
        key = (metadata.get("namespace", ""), metadata.get("name", ""))

        if event_type == "DELETED":
            self.scheduler.forget(key)
            self.scheduler.release(key)
            self.kubelet.forget(key)
            self._recorder.forget(metadata.get("uid", ""))
            self._timeline.record(key, "deleted")
            return

        if event_type == "ADDED":
            self._timeline.start(key)
        node_name = obj.get("spec", {}).get("nodeName")
        if not node_name:
            if not metadata.get("deletionTimestamp"):
                self.scheduler.enqueue(key)
            return

        node = self.node_states.get(node_name)
        if node is None:
            # Bound to a node nobody simulates: it stays Pending, as on a real cluster.
            return
        phase = obj.get("status", {}).get("phase")
        if phase in _TERMINAL:
            self.scheduler.release(key)
        elif key not in self.scheduler.assigned and key not in self.kubelet.pods:
            self.scheduler.account(key, node, pod_requests(obj.get("spec", {})))

        if metadata.get("deletionTimestamp"):
            self.kubelet.request_deletion(obj)
        elif key not in self.kubelet.pods and phase not in _TERMINAL:
            self.kubelet.admit(obj)
