"""The shared watch's resilience rules, each with its fault injected in the simulated cluster."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from engine_support import (
    UNSCHEDULABLE,
    EngineFactory,
    RecordingSink,
    wait_for_state,
    wait_pod_gone,
)
from kubernetes_asyncio.client import ApiClient, Configuration
from structlog.testing import capture_logs

from runspaced import Resources, RunspaceEngine, RunspaceFailed, RunspaceSpec, RunspaceState
from runspaced._kube.manifest import ID_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from runspaced._kube.transport import KubeTransport
from runspaced._kube.watch import ResourceWatch
from runspaced.sim.cluster import SimCluster

pytestmark = pytest.mark.anyio

SMALL = Resources(
    requests={"cpu": "10m", "memory": "16Mi"}, limits={"cpu": "10m", "memory": "16Mi"}
)


def _our_pod(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, ID_LABEL: name},
            "annotations": annotations,
        },
        "spec": {"containers": [{"name": "runspace", "image": "python:3.12"}]},
        "status": {"phase": "Pending"},
    }


async def _wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await anyio.sleep(0.02)


async def _api_client(cluster: SimCluster) -> ApiClient:
    from kubernetes_asyncio import config

    configuration = Configuration()
    await config.load_kube_config(
        config_file=str(cluster.kubeconfig_path), client_configuration=configuration
    )
    return ApiClient(configuration=configuration)


async def test_list_restarts_on_expired_continue(sim_cluster: SimCluster) -> None:
    for index in range(6):
        sim_cluster.store.create("pods", "default", _our_pod(f"paged-{index}"))
    expired_once: list[bool] = []

    def parse(obj: Mapping[str, Any]) -> str:
        # During the first page, write and compact: the continue token is now too old.
        if not expired_once:
            expired_once.append(True)
            sim_cluster.store.create("pods", "default", _our_pod("paged-late"))
            sim_cluster.faults.compact()
        return str(obj["metadata"]["name"])

    sink = RecordingSink()
    client = await _api_client(sim_cluster)
    watch = ResourceWatch(
        KubeTransport(client),
        path="/api/v1/namespaces/default/pods",
        kind="pods",
        parse=parse,
        sink=sink,
        page_size=2,
    )
    with capture_logs() as logs:
        await watch._list()
    await client.close()

    assert [e["event"] for e in logs].count("watch.list_continue_expired") == 1
    assert len(sink.snapshots) == 1
    assert sorted(sink.snapshots[0]) == sorted([f"paged-{i}" for i in range(6)] + ["paged-late"])
    assert sim_cluster.requests.count("list") > 4


@pytest.mark.sim_cluster(bookmark_interval=0.2)
async def test_normal_close_resumes_without_relist(
    engine_factory: EngineFactory, sim_cluster: SimCluster
) -> None:
    # Bookmarks come every 0.2 s until 2 s before the 3 s watch timeout, as on a real server.
    async with engine_factory(watch_timeout_range=(3.0, 3.0), watch_events=False) as engine:
        await engine.wait_synced(10)
        await _wait_until(lambda: engine.health().resumes >= 1)
        info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)
        health = engine.health()

    assert info.state is RunspaceState.READY
    assert health.relists == 0
    assert health.bookmarks >= 1
    assert sim_cluster.requests.count("list") == 1
    assert sim_cluster.requests.count("watch") >= 2


async def test_expired_watch_relists_and_reconciles(
    engine: RunspaceEngine, sim_cluster: SimCluster
) -> None:
    ready = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)
    pending = await engine.create(UNSCHEDULABLE)
    await wait_for_state(engine, pending.id, RunspaceState.CREATING)
    await _wait_until(lambda: engine.get(pending.id).reason == "Unschedulable")  # type: ignore[union-attr]

    # While the engine hears nothing, both pods vanish and the history is compacted.
    sim_cluster.faults.stall_watches(True)
    sim_cluster.faults.delete_behind_back("default", ready.id)
    sim_cluster.faults.delete_behind_back("default", pending.id)
    sim_cluster.store.create("pods", "default", _our_pod("unrelated-write"))
    sim_cluster.faults.compact()
    sim_cluster.faults.drop_watches()
    sim_cluster.faults.stall_watches(False)

    with pytest.raises(RunspaceFailed) as caught:
        await engine.wait(pending.id, timeout=10)

    assert caught.value.reason == "PodDeleted"
    await wait_for_state(engine, ready.id, RunspaceState.DELETED)
    assert engine.health().relists >= 1
    assert engine.get("unrelated-write") is not None


async def test_http_410_relists(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    sim_cluster.faults.fail_next(1, "GET", "/api/v1/namespaces/default/pods", 410)
    sim_cluster.faults.drop_watches()

    await _wait_until(lambda: engine.health().relists >= 1)
    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    assert info.state is RunspaceState.READY
    assert sim_cluster.requests.count("list") >= 2


async def test_stalled_watch_is_restarted(
    engine_factory: EngineFactory, sim_cluster: SimCluster
) -> None:
    async with engine_factory(stall_timeout=0.5, watch_events=False) as engine:
        await engine.wait_synced(10)
        await _wait_until(lambda: engine.health().watch_connected)
        sim_cluster.faults.stall_watches(True)
        await _wait_until(lambda: engine.health().restarts >= 1)
        sim_cluster.faults.stall_watches(False)

        info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)
        health = engine.health()

    assert info.state is RunspaceState.READY
    assert health.last_error is not None
    assert "no data" in health.last_error


async def test_failures_retry_with_backoff(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    sim_cluster.faults.fail_next(2, "GET", "/api/v1/namespaces/default/pods", 503)
    sim_cluster.faults.fail_next(1, "GET", "/api/v1/namespaces/default/pods", 429, retry_after=1)

    with capture_logs() as logs:
        sim_cluster.faults.drop_watches()
        await _wait_until(lambda: engine.health().restarts >= 3 and engine.health().watch_connected)
        info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    retries = [e for e in logs if e["event"] == "watch.retry_scheduled" and e["kind"] == "pods"]
    assert len([e for e in retries if "503" in e["error"]]) == 2
    throttled = [e for e in retries if "429" in e["error"]]
    assert len(throttled) == 1
    assert throttled[0]["delay_s"] >= 1
    assert all(e["resource_version"] is not None for e in retries)
    assert info.state is RunspaceState.READY


async def test_server_restart_is_survived(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    await _wait_until(lambda: engine.health().watch_connected)
    await sim_cluster.faults.restart_server()

    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    health = engine.health()
    assert info.state is RunspaceState.READY
    assert health.restarts + health.resumes >= 1


async def test_large_event_lines_are_read(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    big = "x" * (300 * 1024)
    sim_cluster.store.create("pods", "default", _our_pod("big-pod", note=big))

    await _wait_until(lambda: engine.get("big-pod") is not None)

    assert engine.health().restarts == 0


async def test_concurrent_creations_share_one_watch(
    engine_factory: EngineFactory, sim_cluster: SimCluster
) -> None:
    async with engine_factory(watch_events=False) as engine:
        await engine.wait_synced(10)
        results: list[RunspaceState] = []

        async def create_one() -> None:
            info = await engine.create_and_wait(
                RunspaceSpec(image="python:3.12", resources=SMALL), timeout=60
            )
            results.append(info.state)

        async with anyio.create_task_group() as group:
            for _ in range(200):
                group.start_soon(create_one)
        open_watches = sim_cluster.store.subscription_count

    assert results == [RunspaceState.READY] * 200
    assert sim_cluster.requests.count("watch") == 1
    assert open_watches == 1
    assert sim_cluster.requests.count("get") == 0


async def test_failed_pods_are_not_leaked(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    created = [
        await engine.create(RunspaceSpec(image=f"example.com/does-not-exist-{i}:1"))
        for i in range(3)
    ]
    for info in created:
        with pytest.raises(RunspaceFailed):
            await engine.wait(info.id, timeout=20)

    for info in created:
        await wait_pod_gone(sim_cluster, info.id)
