"""Fixtures for the node half of the simulated cluster, driven through the real ObjectStore."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runspaced.sim.nodes import NodeSimulation, NodeSpec
from runspaced.sim.scenario import Scenario
from runspaced.sim.store import ObjectStore

Pod = dict[str, Any]
# 1 nominal second lasts 5 ms: a 10 s back-off takes 50 ms.
TIME_SCALE = 0.005
WAIT_SECONDS = 10.0


class Harness:
    """A store with a running NodeSimulation, and helpers to create pods and await states."""

    def __init__(self, store: ObjectStore, sim: NodeSimulation) -> None:
        self.store = store
        self.sim = sim
        self._changed = asyncio.Event()
        self.history: list[tuple[str, str, Pod]] = []
        store.add_listener(self._record)

    def _record(self, event_type: str, kind: str, obj: Pod) -> None:
        self.history.append((event_type, kind, obj))
        self._changed.set()

    def create_pod(
        self,
        name: str,
        image: str = "sim/app:1.0",
        *,
        namespace: str = "default",
        containers: list[dict[str, Any]] | None = None,
        init_containers: list[dict[str, Any]] | None = None,
        restart_policy: str = "Always",
        **spec: Any,
    ) -> Pod:
        """Store a pod as the API server would after defaulting (status phase Pending)."""
        body: Pod = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "containers": containers or [{"name": "main", "image": image}],
                "restartPolicy": restart_policy,
                "terminationGracePeriodSeconds": 30,
                **spec,
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        if init_containers:
            body["spec"]["initContainers"] = init_containers
        return self.store.create("pods", namespace, body)

    def pod(self, name: str, namespace: str = "default") -> Pod | None:
        return self.store.get("pods", namespace, name)

    async def wait_for(
        self, name: str, predicate: Callable[[Pod], bool], namespace: str = "default"
    ) -> Pod:
        """Wait (on store changes, no polling) until the pod satisfies the predicate."""

        async def until() -> Pod:
            while True:
                pod = self.pod(name, namespace)
                if pod is not None and predicate(pod):
                    return pod
                self._changed.clear()
                await self._changed.wait()

        async with asyncio.timeout(WAIT_SECONDS):
            return await until()

    async def wait_gone(self, name: str, namespace: str = "default") -> None:
        async def until() -> None:
            while self.pod(name, namespace) is not None:
                self._changed.clear()
                await self._changed.wait()

        async with asyncio.timeout(WAIT_SECONDS):
            await until()

    def events(self, name: str, namespace: str = "default") -> list[Pod]:
        return [
            e for e in self.store.list("events", namespace) if e["involvedObject"]["name"] == name
        ]

    def event_reasons(self, name: str, namespace: str = "default") -> list[str]:
        return [e["reason"] for e in self.events(name, namespace)]

    def pod_history(self, name: str) -> list[Pod]:
        return [
            obj
            for event_type, kind, obj in self.history
            if kind == "pods" and obj["metadata"]["name"] == name and event_type != "DELETED"
        ]


@contextlib.asynccontextmanager
async def running(
    *,
    nodes: int | list[NodeSpec] = 3,
    scenario: Scenario | None = None,
    time_scale: float = TIME_SCALE,
) -> AsyncIterator[Harness]:
    store = ObjectStore()
    sim = NodeSimulation(store, nodes=nodes, scenario=scenario, time_scale=time_scale)
    harness = Harness(store, sim)
    task = asyncio.create_task(sim.run())
    await asyncio.sleep(0)
    try:
        yield harness
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running() as h:
        yield h


def container_state(pod: Pod, index: int = 0, init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    statuses = pod.get("status", {}).get(key) or []
    return statuses[index]["state"] if len(statuses) > index else {}


def waiting_reason(pod: Pod, index: int = 0, init: bool = False) -> str | None:
    return container_state(pod, index, init).get("waiting", {}).get("reason")


def condition(pod: Pod, kind: str) -> dict[str, Any] | None:
    for item in pod.get("status", {}).get("conditions") or []:
        if item.get("type") == kind:
            return item
    return None


def is_ready(pod: Pod) -> bool:
    ready = condition(pod, "Ready")
    return ready is not None and ready["status"] == "True"
