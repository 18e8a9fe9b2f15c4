"""The node half through the real kubernetes-asyncio client over HTTP (SimCluster)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client, config, watch

from runspaced.sim.cluster import SimCluster
from runspaced.testing import running_sim_cluster

WAIT_SECONDS = 15.0


@pytest.fixture
async def cluster() -> AsyncIterator[SimCluster]:
    async with running_sim_cluster(time_scale=0.005) as sim:
        yield sim


@pytest.fixture
async def core(cluster: SimCluster) -> AsyncIterator[client.CoreV1Api]:
    api = await config.new_client_from_config(str(cluster.kubeconfig_path))
    try:
        yield client.CoreV1Api(api)
    finally:
        await api.close()


def pod_body(name: str, image: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": image, **container}]},
    }


async def watch_until(
    core: client.CoreV1Api,
    name: str,
    predicate: Any,
    event_type: str | None = None,
    resource_version: str | None = None,
) -> Any:
    """Watch the pod until an event (of `event_type`, if given) satisfies the predicate.

    With `resource_version` the watch replays the changes after it instead of listing.
    """
    options: dict[str, Any] = {"field_selector": f"metadata.name={name}"}
    if resource_version is not None:
        options["resource_version"] = resource_version
    async with asyncio.timeout(WAIT_SECONDS):
        stream = watch.Watch()
        async with stream:
            async for event in stream.stream(core.list_namespaced_pod, "default", **options):
                if event_type not in (None, event["type"]):
                    continue
                if predicate(event["object"]):
                    return event["object"]
    raise AssertionError("watch ended")


def ready(pod: Any) -> bool:
    conditions = pod.status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


@pytest.mark.anyio
async def test_nodes_listed_over_http(core: client.CoreV1Api) -> None:
    nodes = await core.list_node()
    names = [node.metadata.name for node in nodes.items]
    assert names == ["sim-node-1", "sim-node-2", "sim-node-3"]
    assert nodes.items[0].status.allocatable["cpu"] == "4"


@pytest.mark.anyio
async def test_pod_ready_and_endpoint_over_http(core: client.CoreV1Api) -> None:
    body = pod_body("web", "sim/web:1", ports=[{"containerPort": 18090}])
    await core.create_namespaced_pod("default", body)
    pod = await watch_until(core, "web", ready)
    assert pod.status.phase == "Running"
    assert pod.spec.node_name.startswith("sim-node-")
    assert pod.status.container_statuses[0].state.running is not None

    reader, writer = await asyncio.open_connection(pod.status.pod_ip, 18090)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 200 OK")
    writer.close()

    events = await core.list_namespaced_event("default", field_selector="involvedObject.name=web")
    reasons = [event.reason for event in events.items]
    assert reasons[:2] == ["Scheduled", "Pulling"]
    assert "Started" in reasons


@pytest.mark.anyio
async def test_image_pull_error_over_http(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("gone", "sim/does-not-exist:1"))

    def pull_failed(pod: Any) -> bool:
        statuses = pod.status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting is not None and waiting.reason in ("ErrImagePull", "ImagePullBackOff")

    pod = await watch_until(core, "gone", pull_failed)
    assert pod.status.phase == "Pending"
    assert pod.status.pod_ip


@pytest.mark.anyio
async def test_graceful_delete_over_http(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("bye", "sim/app:1"))
    running = await watch_until(core, "bye", ready)
    await core.delete_namespaced_pod("bye", "default")

    version = running.metadata.resource_version
    final = await watch_until(core, "bye", lambda pod: True, "DELETED", version)
    assert final.metadata.deletion_timestamp is not None
    assert final.status.container_statuses[0].state.terminated.reason == "Completed"
    pods = await core.list_namespaced_pod("default")
    assert [p.metadata.name for p in pods.items] == []


@pytest.mark.anyio
async def test_unschedulable_over_http(core: client.CoreV1Api) -> None:
    body = pod_body("huge", "sim/app:1", resources={"requests": {"cpu": "64"}})
    await core.create_namespaced_pod("default", body)

    def unschedulable(pod: Any) -> bool:
        return any(
            c.type == "PodScheduled" and c.reason == "Unschedulable"
            for c in pod.status.conditions or []
        )

    pod = await watch_until(core, "huge", unschedulable)
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert scheduled.message.startswith("0/3 nodes are available: 3 Insufficient cpu.")
