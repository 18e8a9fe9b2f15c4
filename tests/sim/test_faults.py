"""Fault injection, admin routes and authentication of the simulated API server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from runspaced.sim import SimCluster

from .conftest import pod_body, read_watch_lines, unschedulable_pod

pytestmark = pytest.mark.anyio


async def _admin(
    cluster: SimCluster, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token if token is not None else cluster.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, cluster.url + path, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def _open_watch(core: client.CoreV1Api, **query: Any) -> Any:
    return await core.list_namespaced_pod("default", watch=True, _preload_content=False, **query)


async def test_missing_token_is_unauthorized(sim_cluster: SimCluster) -> None:
    for token in ("", "wrong"):
        status, body = await _admin(sim_cluster, "GET", "/api/v1/pods", token=token)
        assert status == 401
        assert body["kind"] == "Status"
        assert body["reason"] == "Unauthorized"
        assert body["code"] == 401


async def test_drop_watches_cuts_connection(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    response = await _open_watch(core, resource_version=str(sim_cluster.store.resource_version))
    await asyncio.sleep(0.05)
    assert sim_cluster.faults.drop_watches() == 1
    with pytest.raises(aiohttp.ClientPayloadError):
        async for _ in response.content:
            pass
    response.close()


async def test_stalled_watch_sends_nothing_until_resumed(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    response = await _open_watch(
        core, resource_version=str(sim_cluster.store.resource_version), timeout_seconds=30
    )
    await asyncio.sleep(0.05)
    sim_cluster.faults.stall_watches()
    await core.create_namespaced_pod("default", unschedulable_pod("during-stall"))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(response.content.readline(), 0.5)

    sim_cluster.faults.stall_watches(on=False)
    line = json.loads(await asyncio.wait_for(response.content.readline(), 5))
    assert line["type"] == "ADDED"
    assert line["object"]["metadata"]["name"] == "during-stall"
    response.close()


async def test_compact_expires_old_watch(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    created = await core.create_namespaced_pod("default", unschedulable_pod("before-compact"))
    await core.create_namespaced_pod("default", unschedulable_pod("after-create"))
    sim_cluster.faults.compact()
    lines, _ = await read_watch_lines(
        core.list_namespaced_pod,
        "default",
        resource_version=created.metadata.resource_version,
        timeout_seconds=5,
    )
    assert [e["type"] for e in lines] == ["ERROR"]
    assert lines[0]["object"]["code"] == 410


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (403, "Forbidden"),
        (410, "Expired"),
    ],
)
async def test_fail_next_sends_status(
    core: client.CoreV1Api, sim_cluster: SimCluster, code: int, reason: str
) -> None:
    sim_cluster.faults.fail_next(2, "GET", "/api/v1/namespaces/*/pods", code)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            await core.list_namespaced_pod("default")
        status = json.loads(caught.value.body)
        assert caught.value.status == code
        assert status["kind"] == "Status"
        assert status["reason"] == reason
    listed = await core.list_namespaced_pod("default")
    assert listed.kind == "PodList"


async def test_fail_next_429_has_retry_after(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    sim_cluster.faults.fail_next(1, "POST", "/api/v1/namespaces/default/pods", 429, retry_after=3)
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_pod("default", unschedulable_pod("throttled"))
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "3"
    status = json.loads(caught.value.body)
    assert status["reason"] == "TooManyRequests"
    assert status["details"]["retryAfterSeconds"] == 3
    created = await core.create_namespaced_pod("default", unschedulable_pod("throttled"))
    assert created.metadata.name == "throttled"


async def test_fail_next_only_matching_method(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    sim_cluster.faults.fail_next(1, "DELETE", "/api/v1/namespaces/default/pods/*", 500)
    await core.list_namespaced_pod("default")
    assert sim_cluster.faults.statistics()["failures"][0]["remaining"] == 1


async def test_latency_delays_requests(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    sim_cluster.faults.set_latency(0.3)
    started = time.monotonic()
    await core.list_namespaced_pod("default")
    assert time.monotonic() - started >= 0.3
    sim_cluster.faults.set_latency(0)


async def test_evict_fails_pod(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    await core.create_namespaced_pod("default", pod_body("evictee"))
    for _ in range(200):
        pod = sim_cluster.store.get("pods", "default", "evictee")
        if pod and pod["spec"].get("nodeName"):
            break
        await asyncio.sleep(0.02)
    assert sim_cluster.faults.evict("default", "evictee")
    pod = await core.read_namespaced_pod("evictee", "default")
    assert pod.status.phase == "Failed"
    assert pod.status.reason == "Evicted"
    assert not sim_cluster.faults.evict("default", "unknown-pod")


async def test_delete_behind_back_removes_now(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    created = await core.create_namespaced_pod("default", pod_body("vanishing"))
    assert sim_cluster.faults.delete_behind_back("default", "vanishing") is not None
    with pytest.raises(ApiException) as caught:
        await core.read_namespaced_pod("vanishing", "default")
    assert caught.value.status == 404
    lines, _ = await read_watch_lines(
        core.list_namespaced_pod,
        "default",
        resource_version=created.metadata.resource_version,
        field_selector="metadata.name=vanishing",
        timeout_seconds=1,
    )
    assert lines[-1]["type"] == "DELETED"


async def test_restart_keeps_state_and_port(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    created = await core.create_namespaced_pod("default", unschedulable_pod("survivor"))
    url = sim_cluster.url
    response = await _open_watch(core, resource_version=str(sim_cluster.store.resource_version))
    await asyncio.sleep(0.05)
    await sim_cluster.faults.restart_server()
    with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)):
        async for _ in response.content:
            pass
    response.close()

    assert sim_cluster.url == url
    pod = await core.read_namespaced_pod("survivor", "default")
    assert pod.metadata.uid == created.metadata.uid
    assert int(pod.metadata.resource_version) >= int(created.metadata.resource_version)


async def test_admin_routes(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    sim_cluster.requests.reset()
    await core.list_namespaced_pod("default")
    status, counts = await _admin(sim_cluster, "GET", "/_sim/requests")
    assert status == 200
    assert counts["byVerb"] == {"list": 1}
    assert counts["byResource"] == {"pods": {"list": 1}}

    status, _ = await _admin(
        sim_cluster,
        "POST",
        "/_sim/faults/fail-next",
        {"count": 1, "method": "GET", "path": "/api/v1/namespaces/*/pods", "status": 503},
    )
    assert status == 200
    with pytest.raises(ApiException) as caught:
        await core.list_namespaced_pod("default")
    assert caught.value.status == 503

    status, body = await _admin(sim_cluster, "POST", "/_sim/faults/compact")
    assert body["oldestResourceVersion"] == str(sim_cluster.store.resource_version)
    status, body = await _admin(sim_cluster, "POST", "/_sim/faults/stall-watches", {"on": True})
    assert body["watchesStalled"] is True
    status, body = await _admin(sim_cluster, "POST", "/_sim/faults/clear")
    assert body["watchesStalled"] is False
    status, body = await _admin(sim_cluster, "GET", "/_sim/timeline")
    assert status == 200
    assert "pods" in body
    status, body = await _admin(sim_cluster, "DELETE", "/_sim/pods/default/nothing")
    assert status == 404
    status, _ = await _admin(sim_cluster, "GET", "/_sim/requests", token="wrong")
    assert status == 401


async def test_admin_restart_route(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    status, _ = await _admin(sim_cluster, "POST", "/_sim/restart")
    assert status == 202
    for _ in range(100):
        try:
            await core.list_namespaced_pod("default")
            break
        except aiohttp.ClientError:
            await asyncio.sleep(0.05)
    listed = await core.list_namespaced_pod("default")
    assert listed.kind == "PodList"


async def test_client_disconnect_ends_watch(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    response = await _open_watch(core, resource_version=str(sim_cluster.store.resource_version))
    for _ in range(100):
        if sim_cluster.store.subscription_count == 1:
            break
        await asyncio.sleep(0.02)
    assert sim_cluster.store.subscription_count == 1
    response.close()
    for _ in range(200):
        if sim_cluster.store.subscription_count == 0:
            break
        await asyncio.sleep(0.02)
    assert sim_cluster.store.subscription_count == 0


async def test_fail_next_410_on_watch_is_error_event(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    sim_cluster.faults.fail_next(1, "GET", "/api/v1/namespaces/default/pods", 410)
    current = str(sim_cluster.store.resource_version)
    lines, response = await read_watch_lines(
        core.list_namespaced_pod, "default", resource_version=current, timeout_seconds=1
    )
    assert response.status == 200
    assert [e["type"] for e in lines] == ["ERROR"]
    assert lines[0]["object"]["code"] == 410
    assert lines[0]["object"]["reason"] == "Expired"
