"""Helpers shared by the engine tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import anyio

from runspaced import Resources, RunspaceEngine, RunspaceSpec, RunspaceState
from runspaced.sim.cluster import SimCluster

# Requests more cpu than any simulated node has, so the pod stays Unschedulable; the
# long scheduling deadline keeps it CREATING for the length of a test.
UNSCHEDULABLE = RunspaceSpec(
    image="python:3.12",
    resources=Resources(requests={"cpu": "500"}, limits={"cpu": "500"}),
    scheduling_timeout=60,
)

EngineFactory = Callable[..., AbstractAsyncContextManager[RunspaceEngine]]


async def wait_for_state(
    engine: RunspaceEngine, runspace_id: str, state: RunspaceState, timeout: float = 10.0
) -> None:
    """Wait until the cached runspace reaches `state`, watching changes (no API reads)."""
    with anyio.fail_after(timeout):
        async with engine.changes() as changes:
            info = engine.get(runspace_id)
            if info is not None and info.state is state:
                return
            async for change in changes:
                if change.info.id == runspace_id and change.info.state is state:
                    return


async def pod_names(cluster: SimCluster, namespace: str = "default") -> set[str]:
    """Return the names of the pods in the simulated cluster's store."""
    return {pod["metadata"]["name"] for pod in cluster.store.list("pods", namespace)}


async def wait_pod_gone(cluster: SimCluster, name: str, timeout: float = 10.0) -> None:
    """Wait until the simulated cluster no longer has the pod."""
    deadline = time.monotonic() + timeout
    while True:
        if name not in await pod_names(cluster):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"pod {name} still exists after {timeout} s")
        await anyio.sleep(0.02)


class RecordingSink:
    """A watch sink that keeps every snapshot and event, for tests of ResourceWatch."""

    def __init__(self) -> None:
        self.snapshots: list[list[str]] = []
        self.events: list[tuple[str, str]] = []

    def on_list_started(self) -> None:
        pass

    def on_listed(self, items: Sequence[str], resource_version: str) -> None:
        self.snapshots.append(list(items))

    def on_event(self, event_type: str, item: str) -> None:
        self.events.append((event_type, item))
