"""The simulated kube-scheduler: filter nodes by nodeSelector and requests, bind, retry.

Filtering follows the default plugins in their order, and the first plugin that rejects a
node gives that node's reasons, as in the real framework:

1. NodeAffinity (here only ``spec.nodeSelector``): "node(s) didn't match Pod's node
   affinity/selector". Preemption cannot help such a node.
2. NodeResourcesFit: "Too many pods", "Insufficient cpu", "Insufficient memory", each
   reason a node has. Preemption finds no victims, because every simulated pod has the
   same priority.

A pod that fits nowhere gets PodScheduled False, reason Unschedulable, with the message
of FitError (kube-scheduler 1.32 and later) and a FailedScheduling event. It is retried
when a pod is deleted or reaches a terminal phase (resources freed), and every
`RETRY_INTERVAL_SECONDS` (time-scaled), like the scheduler's unschedulable-pod flush.

Among the nodes that fit, the least requested one wins (LeastAllocated scoring, with the
scheduler's default 100m / 200Mi for containers without requests). Ties go to the first
node by name, so placement is deterministic.

NOTE: nodeAffinity, taints, tolerations, host ports and pod (anti-)affinity are not
simulated; pods that use them are scheduled as if those fields were absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from .nodeinfo import NodeState, Requests
from .quantity import InvalidQuantity, cpu_millis, memory_bytes
from .recorder import EventRecorder
from .store import ObjectStore, now_rfc3339

__all__ = ["RETRY_INTERVAL_SECONDS", "Scheduler", "pod_requests", "unschedulable_message"]

log = structlog.get_logger("runspaced.sim.scheduler")

RETRY_INTERVAL_SECONDS = 300.0
SELECTOR_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
_DEFAULT_CPU_MILLIS = 100
_DEFAULT_MEMORY_BYTES = 200 * 2**20
# Pods scheduled before the loop yields to the event loop (HTTP handlers, kubelet tasks).
_BATCH = 64

PodKey = tuple[str, str]


def pod_requests(spec: dict[str, Any]) -> Requests:
    """Sum a pod's requests as the scheduler does.

    The larger of the sum over containers and the largest init container, plus
    spec.overhead. A container without requests uses its limits, as API defaulting
    copies limits into missing requests. Malformed quantities count as zero.
    """

    def container_requests(container: dict[str, Any]) -> tuple[int, int]:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        cpu = requests.get("cpu", limits.get("cpu"))
        memory = requests.get("memory", limits.get("memory"))
        return _quantity(cpu, cpu_millis), _quantity(memory, memory_bytes)

    cpu = memory = 0
    for container in spec.get("containers") or []:
        c_cpu, c_memory = container_requests(container)
        cpu += c_cpu
        memory += c_memory
    for container in spec.get("initContainers") or []:
        c_cpu, c_memory = container_requests(container)
        cpu = max(cpu, c_cpu)
        memory = max(memory, c_memory)
    overhead = spec.get("overhead") or {}
    cpu += _quantity(overhead.get("cpu"), cpu_millis)
    memory += _quantity(overhead.get("memory"), memory_bytes)
    return Requests(cpu, memory)


def unschedulable_message(node_count: int, reasons: Counter[str], preemption: Counter[str]) -> str:
    """Build the FitError message: filter reasons, then the preemption summary.

    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available:
    3 No preemption victims found for incoming pod."
    """
    if node_count == 0:
        return "no nodes available to schedule pods"
    filtered = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    victims = ", ".join(sorted(f"{count} {reason}" for reason, count in preemption.items()))
    head = f"0/{node_count} nodes are available"
    return f"{head}: {filtered}. preemption: {head}: {victims}."


class Scheduler:
    """Places pending pods on nodes; one asyncio task drains the queue."""

    def __init__(
        self,
        store: ObjectStore,
        nodes: Sequence[NodeState],
        recorder: EventRecorder,
        *,
        time_scale: float,
        on_scheduled: Callable[[PodKey, str], None],
        on_unschedulable: Callable[[PodKey], None],
    ) -> None:
        self._store = store
        self._nodes = sorted(nodes, key=lambda node: node.name)
        self._recorder = recorder
        self._time_scale = time_scale
        self._on_scheduled = on_scheduled
        self._on_unschedulable = on_unschedulable
        self._queue: deque[PodKey] = deque()
        self._queued: set[PodKey] = set()
        self._unschedulable: set[PodKey] = set()
        self._wakeup = asyncio.Event()
        # Requests counted per pod bound to a node (and not yet terminal or deleted).
        self.assigned: dict[PodKey, tuple[NodeState, Requests]] = {}

    @property
    def pending(self) -> int:
        """Number of pods queued or waiting for room."""
        return len(self._queued) + len(self._unschedulable)

    def enqueue(self, key: PodKey) -> None:
        """Queue a pod without a node for a scheduling attempt."""
        if key in self._queued:
            return
        self._unschedulable.discard(key)
        self._queued.add(key)
        self._queue.append(key)
        self._wakeup.set()

    def forget(self, key: PodKey) -> None:
        """Drop a pod from the queues (it was deleted or bound elsewhere)."""
        self._unschedulable.discard(key)
        self._queued.discard(key)

    def account(self, key: PodKey, node: NodeState, requests: Requests) -> None:
        """Count a bound pod against its node; a second call for the same pod is ignored."""
        if key in self.assigned:
            return
        node.assign(requests)
        self.assigned[key] = (node, requests)

    def release(self, key: PodKey) -> None:
        """Free a pod's requests (deleted or terminal) and retry the waiting pods."""
        entry = self.assigned.pop(key, None)
        if entry is None:
            return
        node, requests = entry
        node.release(requests)
        self.retry_unschedulable()

    def retry_unschedulable(self) -> None:
        """Move every pod waiting for room back to the queue."""
        waiting = list(self._unschedulable)
        self._unschedulable.clear()
        for key in waiting:
            self.enqueue(key)

    async def run(self) -> None:
        """Schedule queued pods until cancelled; flush the unschedulable pods periodically."""
        interval = max(RETRY_INTERVAL_SECONDS * self._time_scale, 0.05)
        next_flush = time.monotonic() + interval
        while True:
            timeout = max(next_flush - time.monotonic(), 0.0)
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a
            # cancellation that arrives together with the wakeup.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            if time.monotonic() >= next_flush:
                next_flush = time.monotonic() + interval
                self.retry_unschedulable()
            self._wakeup.clear()

            processed = 0
            while self._queue:
                key = self._queue.popleft()
                if key not in self._queued:
                    continue
                self._queued.discard(key)
                self._schedule_one(key)
                processed += 1
                if processed % _BATCH == 0:
                    await asyncio.sleep(0)

    def _schedule_one(self, key: PodKey) -> None:
        namespace, name = key
        pod = self._store.get("pods", namespace, name)
        if pod is None or pod.get("spec", {}).get("nodeName"):
            return
        if pod.get("metadata", {}).get("deletionTimestamp"):
            return
        spec = pod.get("spec", {})
        requests = pod_requests(spec)
        selector = spec.get("nodeSelector") or {}

        # Filter: the first failing plugin gives a node's reasons.
        feasible: list[NodeState] = []
        reasons: Counter[str] = Counter()
        preemption: Counter[str] = Counter()
        for node in self._nodes:
            if any(node.labels.get(k) != v for k, v in selector.items()):
                reasons[SELECTOR_MISMATCH] += 1
                preemption[NOT_HELPFUL] += 1
                continue
            node_reasons = _fit_reasons(node, requests)
            if node_reasons:
                reasons.update(node_reasons)
                preemption[NO_VICTIMS] += 1
                continue
            feasible.append(node)

        if not feasible:
            message = unschedulable_message(len(self._nodes), reasons, preemption)
            self._mark_unschedulable(key, pod, message)
            return
        # Highest score wins; the strict comparison keeps the first node by name on ties.
        best, best_score = feasible[0], _score(feasible[0], spec)
        for candidate in feasible[1:]:
            score = _score(candidate, spec)
            if score > best_score:
                best, best_score = candidate, score
        self._bind(key, pod, best, requests)

    def _bind(self, key: PodKey, pod: dict[str, Any], node: NodeState, requests: Requests) -> None:
        now = now_rfc3339()

        def bind(obj: dict[str, Any]) -> None:
            obj.setdefault("spec", {})["nodeName"] = node.name
            status = obj.setdefault("status", {})
            conditions = [
                c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
            ]
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                }
            )
            status["conditions"] = conditions

        # Count first: the store's listeners start the kubelet inside this update.
        self.account(key, node, requests)
        bound = self._store.update("pods", key[0], key[1], bind)
        if bound is None:
            self.release(key)
            return
        self._recorder.scheduler(
            bound,
            "Normal",
            "Scheduled",
            "Binding",
            f"Successfully assigned {key[0]}/{key[1]} to {node.name}",
        )
        log.debug("sim.pod.scheduled", namespace=key[0], pod=key[1], node=node.name)
        self._on_scheduled(key, node.name)

    def _mark_unschedulable(self, key: PodKey, pod: dict[str, Any], message: str) -> None:
        self._unschedulable.add(key)
        current = next(
            (
                c
                for c in pod.get("status", {}).get("conditions") or []
                if c.get("type") == "PodScheduled"
            ),
            None,
        )
        changed = current is None or (
            current.get("status"),
            current.get("reason"),
            current.get("message"),
        ) != ("False", "Unschedulable", message)

        if changed:
            now = now_rfc3339()

            def mark(obj: dict[str, Any]) -> None:
                status = obj.setdefault("status", {})
                conditions = [
                    c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
                ]
                conditions.append(
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastProbeTime": None,
                        "lastTransitionTime": now,
                    }
                )
                status["conditions"] = conditions

            updated = self._store.update("pods", key[0], key[1], mark)
            if updated is None:
                self._unschedulable.discard(key)
                return
            pod = updated
        self._recorder.scheduler(pod, "Warning", "FailedScheduling", "Scheduling", message)
        log.debug("sim.pod.unschedulable", namespace=key[0], pod=key[1], message=message)
        self._on_unschedulable(key)


def _fit_reasons(node: NodeState, requests: Requests) -> list[str]:
    reasons = []
    if node.pod_count + 1 > node.max_pods:
        reasons.append("Too many pods")
    free_cpu = node.allocatable.cpu_millis - node.requested_cpu
    if requests.cpu_millis > 0 and requests.cpu_millis > free_cpu:
        reasons.append("Insufficient cpu")
    free_memory = node.allocatable.memory_bytes - node.requested_memory
    if requests.memory_bytes > 0 and requests.memory_bytes > free_memory:
        reasons.append("Insufficient memory")
    return reasons


def _score(node: NodeState, spec: dict[str, Any]) -> float:
    # LeastAllocated: the mean free fraction of cpu and memory after placing the pod,
    # counting containers without requests at the scheduler's non-zero defaults.
    cpu = memory = 0
    for container in spec.get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += _quantity(requests.get("cpu"), cpu_millis) or _DEFAULT_CPU_MILLIS
        memory += _quantity(requests.get("memory"), memory_bytes) or _DEFAULT_MEMORY_BYTES
    allocatable = node.allocatable
    cpu_free = (allocatable.cpu_millis - node.requested_cpu - cpu) / max(allocatable.cpu_millis, 1)
    memory_free = (allocatable.memory_bytes - node.requested_memory - memory) / max(
        allocatable.memory_bytes, 1
    )
    return (cpu_free + memory_free) / 2


def _quantity(value: Any, convert: Callable[[str | int | float], int]) -> int:
    if value is None:
        return 0
    try:
        return convert(value)
    except InvalidQuantity:
        log.warning("sim.quantity.invalid", value=str(value))
        return 0
