"""Discovery, namespaces, nodes, leases and TLS through kubernetes-asyncio."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from runspaced.sim import SimCluster

from .conftest import read_watch_lines, unschedulable_pod

pytestmark = pytest.mark.anyio


async def test_core_discovery(api_client: client.ApiClient) -> None:
    versions = await client.CoreApi(api_client).get_api_versions()
    assert versions.versions == ["v1"]
    resources = await client.CoreV1Api(api_client).get_api_resources()
    names = {r.name for r in resources.resources}
    assert {"pods", "pods/status", "events", "namespaces", "nodes"} <= names
    pods = next(r for r in resources.resources if r.name == "pods")
    assert pods.namespaced is True
    assert pods.kind == "Pod"
    assert "watch" in pods.verbs


async def test_group_discovery(api_client: client.ApiClient) -> None:
    groups = await client.ApisApi(api_client).get_api_versions()
    coordination = next(g for g in groups.groups if g.name == "coordination.k8s.io")
    assert coordination.preferred_version.group_version == "coordination.k8s.io/v1"
    resources = await client.CoordinationV1Api(api_client).get_api_resources()
    assert [r.name for r in resources.resources] == ["leases"]


async def test_version(api_client: client.ApiClient) -> None:
    version = await client.VersionApi(api_client).get_code()
    assert version.major == "1"
    assert version.git_version.startswith("v1.")


async def test_namespaces_create_get_list(core: client.CoreV1Api) -> None:
    created = await core.create_namespace({"metadata": {"name": "team-a"}})
    assert created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    fetched = await core.read_namespace("team-a")
    assert fetched.metadata.uid == created.metadata.uid
    names = [n.metadata.name for n in (await core.list_namespace()).items]
    assert {"default", "kube-system", "team-a"} <= set(names)
    pod = await core.create_namespaced_pod("team-a", unschedulable_pod("inside"))
    assert pod.metadata.namespace == "team-a"


async def test_namespace_name_must_be_label(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        await core.create_namespace({"metadata": {"name": "a.b"}})
    status = json.loads(caught.value.body)
    assert caught.value.status == 422
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123 label" in status["details"]["causes"][0]["message"]


async def test_nodes_list_get_watch(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    nodes = (await core.list_node()).items
    assert len(nodes) == 3
    first = await core.read_node(nodes[0].metadata.name)
    assert first.metadata.name == nodes[0].metadata.name
    lines, _ = await read_watch_lines(core.list_node, timeout_seconds=1, limit=3)
    assert {e["object"]["kind"] for e in lines} == {"Node"}
    with pytest.raises(ApiException) as caught:
        await core.create_node({"metadata": {"name": "extra"}})
    assert caught.value.status == 405


async def test_lease_optimistic_concurrency(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    body: dict[str, Any] = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}}
    created = await leases.create_namespaced_lease("default", body)

    created.spec.holder_identity = "b"
    updated = await leases.replace_namespaced_lease("leader", "default", created)
    assert updated.spec.holder_identity == "b"
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)

    # The first object's resourceVersion is stale now.
    created.spec.holder_identity = "c"
    with pytest.raises(ApiException) as caught:
        await leases.replace_namespaced_lease("leader", "default", created)
    status = json.loads(caught.value.body)
    assert caught.value.status == 409
    assert status["reason"] == "Conflict"
    assert status["message"].startswith(
        'Operation cannot be fulfilled on leases.coordination.k8s.io "leader": '
        "the object has been modified"
    )
    assert status["details"] == {
        "name": "leader",
        "group": "coordination.k8s.io",
        "kind": "leases",
    }

    listed = await leases.list_namespaced_lease("default")
    assert [lease.spec.holder_identity for lease in listed.items] == ["b"]
    fetched = await leases.read_namespaced_lease("leader", "default")
    assert fetched.spec.holder_identity == "b"
    await leases.delete_namespaced_lease("leader", "default")
    with pytest.raises(ApiException) as caught:
        await leases.read_namespaced_lease("leader", "default")
    assert json.loads(caught.value.body)["message"] == (
        'leases.coordination.k8s.io "leader" not found'
    )


@pytest.mark.sim_cluster(tls=True)
async def test_tls_with_generated_kubeconfig(sim_cluster: SimCluster) -> None:
    assert sim_cluster.url.startswith("https://127.0.0.1:")
    api = await config.new_client_from_config(config_file=str(sim_cluster.kubeconfig_path))
    try:
        pods = await client.CoreV1Api(api).list_namespaced_pod("default")
        assert pods.kind == "PodList"
    finally:
        await api.close()
