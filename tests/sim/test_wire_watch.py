"""Watch and list semantics through the real kubernetes-asyncio client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from runspaced.sim import SimCluster

from .conftest import read_watch_lines, unschedulable_pod

pytestmark = pytest.mark.anyio


async def _lease(api_client: client.ApiClient, name: str, **labels: str) -> Any:
    leases = client.CoordinationV1Api(api_client)
    body = {"metadata": {"name": name, "labels": labels}, "spec": {"holderIdentity": "h"}}
    return await leases.create_namespaced_lease("default", body)


async def test_list_rv_and_items_without_kind(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("listed"))
    response = await core.list_namespaced_pod("default", _preload_content=False)
    body = json.loads(await response.read())
    assert body["kind"] == "PodList"
    assert body["apiVersion"] == "v1"
    assert isinstance(body["metadata"]["resourceVersion"], str)
    assert int(body["metadata"]["resourceVersion"]) == sim_cluster.store.resource_version
    assert [i["metadata"]["name"] for i in body["items"]] == ["listed"]
    assert "kind" not in body["items"][0]
    assert "apiVersion" not in body["items"][0]


async def test_resource_versions_increase(core: client.CoreV1Api) -> None:
    first = await core.create_namespaced_pod("default", unschedulable_pod("rv-a"))
    second = await core.create_namespaced_pod("default", unschedulable_pod("rv-b"))
    assert isinstance(first.metadata.resource_version, str)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)


async def test_watch_unset_rv_sends_synthetic_added(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    await _lease(api_client, "existing-a")
    await _lease(api_client, "existing-b")
    leases = client.CoordinationV1Api(api_client)
    for rv in (None, "0"):
        query: dict[str, Any] = {"timeout_seconds": 1}
        if rv is not None:
            query["resource_version"] = rv
        lines, _ = await read_watch_lines(leases.list_namespaced_lease, "default", **query)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [
            ("ADDED", "existing-a"),
            ("ADDED", "existing-b"),
        ]
        assert lines[0]["object"]["kind"] == "Lease"
        assert lines[0]["object"]["apiVersion"] == "coordination.k8s.io/v1"


async def test_watch_from_rv_sends_only_newer(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    await _lease(api_client, "before")
    created = await _lease(api_client, "after-1")
    await _lease(api_client, "after-2")
    leases = client.CoordinationV1Api(api_client)
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease,
        "default",
        resource_version=created.metadata.resource_version,
        timeout_seconds=1,
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "after-2")]


async def test_watch_is_chunked_ndjson(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("chunked"))
    lines, response = await read_watch_lines(
        core.list_namespaced_pod, "default", timeout_seconds=1, limit=1
    )
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(lines[0]) == {"type", "object"}
    assert lines[0]["object"]["kind"] == "Pod"


async def test_send_initial_events_ends_with_bookmark(
    api_client: client.ApiClient,
) -> None:
    await _lease(api_client, "initial")
    leases = client.CoordinationV1Api(api_client)
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease,
        "default",
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        limit=2,
    )
    assert lines[0]["type"] == "ADDED"
    assert lines[1]["type"] == "BOOKMARK"
    annotations = lines[1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}


async def test_send_initial_events_needs_not_older_than(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    with pytest.raises(ApiException) as caught:
        await leases.list_namespaced_lease(
            "default", watch=True, send_initial_events=True, allow_watch_bookmarks=True
        )
    assert caught.value.status == 422


@pytest.mark.sim_cluster(bookmark_interval=0.2)
async def test_bookmarks_on_interval(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    created = await _lease(api_client, "bm")
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease,
        "default",
        resource_version=created.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=30,
        limit=2,
    )
    assert [e["type"] for e in lines] == ["BOOKMARK", "BOOKMARK"]
    bookmark = lines[0]["object"]
    assert set(bookmark) == {"kind", "apiVersion", "metadata"}
    assert set(bookmark["metadata"]) == {"resourceVersion"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(created.metadata.resource_version)


@pytest.mark.sim_cluster(bookmark_interval=0.2)
async def test_no_bookmarks_unless_allowed(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    created = await _lease(api_client, "no-bm")
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease,
        "default",
        resource_version=created.metadata.resource_version,
        timeout_seconds=1,
    )
    assert lines == []


async def test_bookmark_before_timeout(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    created = await _lease(api_client, "pre-timeout")
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease,
        "default",
        resource_version=created.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=3,
    )
    assert [e["type"] for e in lines] == ["BOOKMARK"]


async def test_timeout_closes_without_final_event(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    created = await _lease(api_client, "quiet")
    stream = watch.Watch().stream(
        leases.list_namespaced_lease,
        "default",
        resource_version=created.metadata.resource_version,
        timeout_seconds=1,
    )
    events = [event async for event in stream]
    assert events == []


@pytest.mark.sim_cluster(history_size=3)
async def test_watch_older_than_history_expires(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    first = await _lease(api_client, "old-0")
    for index in range(1, 6):
        await _lease(api_client, f"old-{index}")
    old_rv = first.metadata.resource_version
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease, "default", resource_version=old_rv, timeout_seconds=5
    )
    assert len(lines) == 1
    assert lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old_rv} (")

    with pytest.raises(ApiException) as caught:
        stream = watch.Watch().stream(
            leases.list_namespaced_lease,
            "default",
            resource_version=old_rv,
            timeout_seconds=5,
        )
        async for _ in stream:
            pass
    assert caught.value.status == 410


async def test_selector_transitions_on_watch(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    leases = client.CoordinationV1Api(api_client)
    created = await _lease(api_client, "moving", tier="web")
    patch = {"metadata": {"labels": {"tier": "db"}}}
    await leases.patch_namespaced_lease("moving", "default", patch)
    back = {"metadata": {"labels": {"tier": "web"}}}
    await leases.patch_namespaced_lease("moving", "default", back)
    lines, _ = await read_watch_lines(
        leases.list_namespaced_lease,
        "default",
        resource_version=created.metadata.resource_version,
        label_selector="tier=web",
        timeout_seconds=1,
    )
    assert [e["type"] for e in lines] == ["DELETED", "ADDED"]
    # The DELETED object is the last matching state with the change's resourceVersion.
    assert lines[0]["object"]["metadata"]["labels"] == {"tier": "web"}
    assert int(lines[0]["object"]["metadata"]["resourceVersion"]) > int(
        created.metadata.resource_version
    )


async def test_label_selectors_on_list(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("a1", app="a", tier="web"))
    await core.create_namespaced_pod("default", unschedulable_pod("a2", app="a"))
    await core.create_namespaced_pod("default", unschedulable_pod("b1", app="b", tier="db"))
    cases = {
        "app=a": ["a1", "a2"],
        "app==a": ["a1", "a2"],
        "app!=a": ["b1"],
        "app in (a,b),tier": ["a1", "b1"],
        "tier notin (web)": ["a2", "b1"],
        "!tier": ["a2"],
        "app=a,tier=web": ["a1"],
    }
    for selector, expected in cases.items():
        pods = await core.list_namespaced_pod("default", label_selector=selector)
        assert [p.metadata.name for p in pods.items] == expected, selector


async def test_field_selectors_on_list(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("f1"))
    body = unschedulable_pod("f2")
    body["spec"]["restartPolicy"] = "Never"
    await core.create_namespaced_pod("default", body)
    cases = {
        "metadata.name=f1": ["f1"],
        "spec.restartPolicy==Never": ["f2"],
        "spec.restartPolicy!=Never": ["f1"],
        "status.phase=Pending,metadata.name!=f1": ["f2"],
        "spec.nodeName=": ["f1", "f2"],
    }
    for selector, expected in cases.items():
        pods = await core.list_pod_for_all_namespaces(field_selector=selector)
        assert [p.metadata.name for p in pods.items] == expected, selector


async def test_unsupported_field_selector_rejected(core: client.CoreV1Api) -> None:
    for call in (core.list_namespaced_pod, core.list_namespaced_event):
        with pytest.raises(ApiException) as caught:
            await call("default", field_selector="spec.unknown=x")
        status = json.loads(caught.value.body)
        assert caught.value.status == 400
        assert status["reason"] == "BadRequest"
        assert status["message"] == "field label not supported: spec.unknown"


async def test_field_selector_on_watch(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("w1"))
    await core.create_namespaced_pod("default", unschedulable_pod("w2"))
    lines, _ = await read_watch_lines(
        core.list_pod_for_all_namespaces, field_selector="metadata.name=w2", timeout_seconds=1
    )
    assert {e["object"]["metadata"]["name"] for e in lines} == {"w2"}


async def test_pagination_keeps_list_rv(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    for index in range(5):
        await core.create_namespaced_pod("default", unschedulable_pod(f"page-{index}"))
    first = await core.list_namespaced_pod("default", limit=2)
    list_rv = first.metadata.resource_version
    assert [p.metadata.name for p in first.items] == ["page-0", "page-1"]
    assert first.metadata.remaining_item_count == 3

    # Changes after the first page do not show up in later pages.
    await core.delete_namespaced_pod("page-3", "default")
    await core.create_namespaced_pod("default", unschedulable_pod("page-9"))

    names = [p.metadata.name for p in first.items]
    token = first.metadata._continue
    while token:
        page = await core.list_namespaced_pod("default", limit=2, _continue=token)
        assert page.metadata.resource_version == list_rv
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
    assert names == [f"page-{i}" for i in range(5)]


async def test_continue_after_compaction_expires(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    for index in range(3):
        await core.create_namespaced_pod("default", unschedulable_pod(f"c-{index}"))
    first = await core.list_namespaced_pod("default", limit=1)
    await core.create_namespaced_pod("default", unschedulable_pod("c-new"))
    sim_cluster.faults.compact()
    with pytest.raises(ApiException) as caught:
        await core.list_namespaced_pod("default", limit=1, _continue=first.metadata._continue)
    status = json.loads(caught.value.body)
    assert caught.value.status == 410
    assert status["reason"] == "Expired"
    assert status["message"].startswith("The provided continue parameter is too old")
    assert status["metadata"]["continue"]


async def test_events_list_and_field_selector(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("noisy"))
    events: list[Any] = []
    for _ in range(100):
        listed = await core.list_namespaced_event(
            "default", field_selector="involvedObject.name=noisy,involvedObject.kind=Pod"
        )
        events = listed.items
        if events:
            break
        await asyncio.sleep(0.05)
    assert events
    assert all(e.involved_object.name == "noisy" for e in events)
    everywhere = await core.list_event_for_all_namespaces(field_selector="type=Warning")
    assert all(e.type == "Warning" for e in everywhere.items)


async def test_request_counters_by_verb(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    sim_cluster.requests.reset()
    await core.create_namespaced_pod("default", unschedulable_pod("counted"))
    await core.read_namespaced_pod("counted", "default")
    await core.list_namespaced_pod("default")
    await core.read_namespaced_pod_status("counted", "default")
    counts = sim_cluster.requests.by_verb()
    assert counts == {"create": 1, "get": 2, "list": 1}
    assert sim_cluster.requests.count("get", "pods/status") == 1
    assert sim_cluster.requests.total == 4


async def test_watch_on_object_url(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("one"))
    await core.create_namespaced_pod("default", unschedulable_pod("other"))
    response = await core.api_client.call_api(
        "/api/v1/namespaces/default/pods/one",
        "GET",
        query_params=[("watch", "true"), ("timeoutSeconds", "1")],
        auth_settings=["BearerToken"],
        _preload_content=False,
    )
    names = {json.loads(line)["object"]["metadata"]["name"] async for line in response.content}
    response.close()
    assert names == {"one"}


async def test_rv_zero_list_ignores_limit(core: client.CoreV1Api) -> None:
    for index in range(3):
        await core.create_namespaced_pod("default", unschedulable_pod(f"cached-{index}"))
    listed = await core.list_namespaced_pod("default", limit=1, resource_version="0")
    assert len(listed.items) == 3
    assert listed.metadata._continue is None


async def test_rv_with_limit_reads_exact(core: client.CoreV1Api) -> None:
    first = await core.create_namespaced_pod("default", unschedulable_pod("exact-a"))
    await core.create_namespaced_pod("default", unschedulable_pod("exact-b"))
    listed = await core.list_namespaced_pod(
        "default", limit=10, resource_version=first.metadata.resource_version
    )
    assert [p.metadata.name for p in listed.items] == ["exact-a"]
    assert listed.metadata.resource_version == first.metadata.resource_version
    newest = await core.list_namespaced_pod(
        "default", resource_version=first.metadata.resource_version
    )
    assert [p.metadata.name for p in newest.items] == ["exact-a", "exact-b"]
