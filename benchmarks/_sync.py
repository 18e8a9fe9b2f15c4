"""Time for a fresh engine to sync with many runspaced pods that already exist.

The simulator runs in its own process. The pods are created through the API with the
runspaced labels, as a previous engine would have left them, and the timer starts
only once every one of them is Running, so the engine lists a quiet collection.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from _sim import SimProcess

__all__ = ["measure_sync_seconds"]

NAMESPACE = "bench-sync"
CREATE_CONCURRENCY = 32


def existing_pod(name: str) -> dict[str, Any]:
    """Return a pod as a runspaced engine labels it; no port, so no endpoint listener."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "runspaced", "runspaced.dev/id": name},
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [{"name": "runspace", "image": "bench.local/app:v1"}],
        },
    }


async def _create_pods(sim: SimProcess, pods: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(pods):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = existing_pod(f"rs-sync-{index:06d}")
            async with sim.session.post(f"/api/v1/namespaces/{NAMESPACE}/pods", json=body) as r:
                if r.status != 201:
                    raise RuntimeError(f"creating pod {index} failed: {r.status} {await r.text()}")

    await asyncio.gather(*(worker() for _ in range(CREATE_CONCURRENCY)))


async def _wait_running(sim: SimProcess, pods: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    while True:
        async with sim.session.get(path, params={"fieldSelector": "status.phase=Running"}) as r:
            r.raise_for_status()
            running = len((await r.json()).get("items") or ())
        if running >= pods:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {running} of {pods} pods running after {timeout} s")
        await asyncio.sleep(1.0)


async def _time_sync(sim: SimProcess, *, watch_events: bool) -> tuple[float, float, int]:
    """Return wall and CPU seconds from entering a new engine to its first pod list, and its size."""
    from runspaced import RunspaceEngine

    engine = RunspaceEngine.from_kubeconfig(
        path=sim.kubeconfig_path, namespace=NAMESPACE, watch_events=watch_events
    )
    started = time.perf_counter()
    cpu_started = time.process_time()
    async with engine:
        await engine.wait_synced(timeout=300)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        tracked = len(engine.list())
    return seconds, cpu_seconds, tracked


async def measure_sync_seconds(pods: int, *, time_scale: float = 0.01) -> dict[str, Any]:
    """Return the seconds from entering an engine to `wait_synced()` with `pods` pods present.

    The engine runs with its default settings, which include the Event watch; the
    result also contains the time without it, how many runspaces the engine tracked
    and the seconds the setup (creating and starting the pods) took.
    """
    nodes = pods // 100 + 2
    with tempfile.TemporaryDirectory(prefix="runspaced-sync-") as directory:
        async with SimProcess(
            Path(directory), time_scale=time_scale, nodes=nodes, start_timeout=60
        ) as sim:
            setup_started = time.monotonic()
            await sim.create_namespace(NAMESPACE)
            await _create_pods(sim, pods)
            await _wait_running(sim, pods, timeout=300)
            setup = time.monotonic() - setup_started

            # The first engine in a process pays one-time costs (imports, kubeconfig
            # loading code), so a warm-up sync runs before the timed ones.
            await _time_sync(sim, watch_events=False)
            seconds, cpu_seconds, tracked = await _time_sync(sim, watch_events=True)
            seconds_pods_only, cpu_pods_only, _ = await _time_sync(sim, watch_events=False)
    if tracked != pods:
        raise RuntimeError(f"the engine tracks {tracked} runspaces, expected {pods}")
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "seconds_without_event_watch": round(seconds_pods_only, 3),
        "cpu_seconds_without_event_watch": round(cpu_pods_only, 3),
        "pods": pods,
        "tracked": tracked,
        "setup_seconds": round(setup, 1),
        "nodes": nodes,
    }
