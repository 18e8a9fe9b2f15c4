"""OpenAPI v3 documents and fieldValidation over HTTP, through aiohttp and kubernetes-asyncio."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from multidict import CIMultiDict

from runspaced.sim import SimCluster
from runspaced.sim.openapi import Kind, prune_unknown_fields
from runspaced.sim.resources import RESOURCES

from .conftest import pod_body, unschedulable_pod

pytestmark = pytest.mark.anyio

_SMP = "application/strategic-merge-patch+json"
_MERGE = "application/merge-patch+json"


async def _get(
    cluster: SimCluster, path: str, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    """GET `path` with the cluster's token and return redirects without following them."""
    request_headers = {"Authorization": f"Bearer {cluster.token}", **(headers or {})}
    async with (
        aiohttp.ClientSession() as session,
        session.get(cluster.url + path, headers=request_headers, allow_redirects=False) as response,
    ):
        return response.status, CIMultiDict(response.headers), await response.read()


async def _document(cluster: SimCluster, key: str = "api/v1") -> dict[str, Any]:
    status, _, body = await _get(cluster, "/openapi/v3")
    assert status == 200
    url = json.loads(body)["paths"][key]["serverRelativeURL"]
    status, _, body = await _get(cluster, url)
    assert status == 200
    document: dict[str, Any] = json.loads(body)
    return document


def _status(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def _with_unknown_fields(name: str) -> dict[str, Any]:
    body = unschedulable_pod(name)
    body["spec"]["containers"][0]["foo"] = "x"
    body["spec"]["bar"] = 1
    return body


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


# -- documents -----------------------------------------------------------------------------


async def test_index_lists_group_versions(sim_cluster: SimCluster) -> None:
    status, headers, body = await _get(sim_cluster, "/openapi/v3")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    paths = json.loads(body)["paths"]
    assert sorted(paths) == ["api/v1", "apis/coordination.k8s.io/v1"]
    for key, entry in paths.items():
        assert re.fullmatch(rf"/openapi/v3/{key}\?hash=[0-9A-F]{{128}}", entry["serverRelativeURL"])


async def test_patch_operations_accept_field_validation(sim_cluster: SimCluster) -> None:
    document = await _document(sim_cluster)
    expected = {("", "v1", r.kind) for r in RESOURCES if not r.group}
    found: set[tuple[str, str, str]] = set()
    for path, item in document["paths"].items():
        operation = item.get("patch")
        if operation is None:
            continue
        gvk = operation["x-kubernetes-group-version-kind"]
        found.add((gvk["group"], gvk["version"], gvk["kind"]))
        names = {(p["name"], p["in"]) for p in operation["parameters"]}
        assert ("fieldValidation", "query") in names, path
        assert _SMP in operation["requestBody"]["content"], path
    assert found == expected


async def test_pod_paths_name_the_kind(sim_cluster: SimCluster) -> None:
    document = await _document(sim_cluster)
    pod = {"group": "", "kind": "Pod", "version": "v1"}
    collection = document["paths"]["/api/v1/namespaces/{namespace}/pods"]
    item = document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert collection["get"]["x-kubernetes-group-version-kind"] == pod
    assert collection["post"]["x-kubernetes-action"] == "post"
    assert sorted(k for k in item if k != "parameters") == ["delete", "get", "patch", "put"]
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in document["paths"]
    assert document["paths"]["/api/v1/nodes/{name}"].keys() == {"get", "parameters"}


async def test_schemas_carry_kinds_and_patch_keys(sim_cluster: SimCluster) -> None:
    schemas = (await _document(sim_cluster))["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}
    ]

    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["type"] == "array"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["description"].startswith("List of containers belonging to the pod.")
    assert schemas["io.k8s.api.core.v1.PodSpec"]["required"] == ["containers"]

    container = schemas["io.k8s.api.core.v1.Container"]
    assert container["required"] == ["name"]
    ports = container["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"

    meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    assert schemas["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"][
        "additionalProperties"
    ] == {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}
    assert schemas["io.k8s.api.core.v1.HTTPGetAction"]["properties"]["port"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    ]
    assert schemas["io.k8s.api.core.v1.Event"]["properties"]["eventTime"]["allOf"] == [
        {"$ref": f"#/components/schemas/{meta}MicroTime"}
    ]
    assert schemas[f"{meta}ObjectMeta"]["properties"]["creationTimestamp"]["allOf"] == [
        {"$ref": f"#/components/schemas/{meta}Time"}
    ]
    assert schemas[f"{meta}Time"] == {
        "description": schemas[f"{meta}Time"]["description"],
        "format": "date-time",
        "type": "string",
    }


async def test_every_reference_resolves(sim_cluster: SimCluster) -> None:
    for key in ("api/v1", "apis/coordination.k8s.io/v1"):
        document = await _document(sim_cluster, key)
        schemas = document["components"]["schemas"]
        references = set(_refs(document))
        assert references
        for reference in references:
            assert reference.startswith("#/components/schemas/")
            assert reference.removeprefix("#/components/schemas/") in schemas, reference


async def test_lease_document_has_lease_kind(sim_cluster: SimCluster) -> None:
    document = await _document(sim_cluster, "apis/coordination.k8s.io/v1")
    lease = document["components"]["schemas"]["io.k8s.api.coordination.v1.Lease"]
    kind = {"group": "coordination.k8s.io", "kind": "Lease", "version": "v1"}
    assert lease["x-kubernetes-group-version-kind"] == [kind]
    item = document["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"]
    assert item["patch"]["x-kubernetes-group-version-kind"] == kind
    assert "io.k8s.api.core.v1.Pod" not in document["components"]["schemas"]


async def test_document_caching_headers(sim_cluster: SimCluster) -> None:
    _, _, body = await _get(sim_cluster, "/openapi/v3")
    url = json.loads(body)["paths"]["api/v1"]["serverRelativeURL"]
    digest = url.rsplit("=", 1)[-1]

    status, headers, _ = await _get(sim_cluster, url)
    assert status == 200
    assert headers["ETag"] == f'"{digest}"'
    assert headers["Cache-Control"] == "public, immutable"

    status, headers, _ = await _get(sim_cluster, "/openapi/v3/api/v1")
    assert status == 200
    assert "Cache-Control" not in headers

    status, headers, _ = await _get(sim_cluster, "/openapi/v3/api/v1?hash=STALE")
    assert status == 301
    assert headers["Location"] == url

    status, _, body = await _get(sim_cluster, url, {"If-None-Match": f'"{digest}"'})
    assert status == 304
    assert body == b""


async def test_openapi_errors(sim_cluster: SimCluster) -> None:
    status, _, body = await _get(sim_cluster, "/openapi/v3/apis/apps/v1")
    assert status == 404
    assert json.loads(body)["reason"] == "NotFound"

    protobuf = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
    status, _, body = await _get(sim_cluster, "/openapi/v3/api/v1", {"Accept": protobuf})
    assert status == 406
    assert json.loads(body)["reason"] == "NotAcceptable"

    status, _, _ = await _get(sim_cluster, "/openapi/v3/api/v1", {"Accept": f"{protobuf}, */*"})
    assert status == 200

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            sim_cluster.url + "/openapi/v3",
            headers={"Authorization": f"Bearer {sim_cluster.token}"},
        ) as response,
    ):
        assert response.status == 405

    async with (
        aiohttp.ClientSession() as session,
        session.get(sim_cluster.url + "/openapi/v3") as response,
    ):
        assert response.status == 401


# -- fieldValidation -----------------------------------------------------------------------


async def test_create_warns_and_prunes_by_default(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    _, status, headers = await core.create_namespaced_pod_with_http_info(
        "default", _with_unknown_fields("warned")
    )
    assert status == 201
    assert headers.getall("Warning") == [
        '299 - "unknown field \\"spec.containers[0].foo\\""',
        '299 - "unknown field \\"spec.bar\\""',
    ]
    stored = sim_cluster.store.get("pods", "default", "warned")
    assert stored is not None
    assert "foo" not in stored["spec"]["containers"][0]
    assert "bar" not in stored["spec"]


async def test_create_strict_rejects_unknown_fields(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_pod(
            "default", _with_unknown_fields("strict"), field_validation="Strict"
        )
    status = _status(caught.value)
    assert caught.value.status == 400
    assert status["reason"] == "BadRequest"
    assert status["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].foo", unknown field "spec.bar"'
    )
    assert sim_cluster.store.get("pods", "default", "strict") is None


async def test_create_ignore_prunes_silently(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    _, status, headers = await core.create_namespaced_pod_with_http_info(
        "default", _with_unknown_fields("ignored"), field_validation="Ignore"
    )
    assert status == 201
    assert "Warning" not in headers
    stored = sim_cluster.store.get("pods", "default", "ignored")
    assert stored is not None
    assert "bar" not in stored["spec"]


async def test_known_fields_send_no_warning(core: client.CoreV1Api) -> None:
    _, status, headers = await core.create_namespaced_pod_with_http_info(
        "default", pod_body("clean"), field_validation="Strict"
    )
    assert status == 201
    assert "Warning" not in headers


async def test_warning_escapes_quotes(core: client.CoreV1Api) -> None:
    body = unschedulable_pod("quoted")
    body["metadata"]['we"ird'] = 1
    _, _, headers = await core.create_namespaced_pod_with_http_info("default", body)
    assert headers.getall("Warning") == ['299 - "unknown field \\"metadata.we\\"ird\\""']


async def test_invalid_directive_is_rejected(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("target"))
    labels = {"metadata": {"labels": {"a": "b"}}}
    cases: list[tuple[str, str, Callable[[str], Awaitable[Any]]]] = [
        (
            "CreateOptions",
            "strict",
            lambda value: core.create_namespaced_pod(
                "default", pod_body("a"), field_validation=value
            ),
        ),
        (
            "UpdateOptions",
            "Bogus",
            lambda value: core.replace_namespaced_pod(
                "target", "default", unschedulable_pod("target"), field_validation=value
            ),
        ),
        (
            "PatchOptions",
            "Bogus",
            lambda value: core.patch_namespaced_pod(
                "target", "default", labels, field_validation=value
            ),
        ),
    ]
    for options_kind, value, call in cases:
        with pytest.raises(ApiException) as caught:
            await call(value)
        status = _status(caught.value)
        assert caught.value.status == 422
        assert status["reason"] == "Invalid"
        assert status["message"] == (
            f'{options_kind}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
            f'"{value}": supported values: "", "Ignore", "Strict", "Warn"'
        )
        assert status["details"]["group"] == "meta.k8s.io"
        assert status["details"]["kind"] == options_kind
        assert status["details"]["causes"][0]["field"] == "fieldValidation"


async def test_get_ignores_field_validation(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("read"))
    status, _, _ = await _get(sim_cluster, "/api/v1/namespaces/default/pods/read?fieldValidation=x")
    assert status == 200


async def test_replace_strict_and_warn(core: client.CoreV1Api, sim_cluster: SimCluster) -> None:
    # The stored spec with its defaults, since a pod update may not change the spec. No
    # resourceVersion: the scheduler may update the pod's status meanwhile.
    await core.create_namespaced_pod("default", unschedulable_pod("replaced"))
    stored = sim_cluster.store.get("pods", "default", "replaced")
    assert stored is not None
    body = {"apiVersion": "v1", "kind": "Pod", **copy.deepcopy(stored)}
    del body["metadata"]["resourceVersion"]
    body["metadata"]["labels"] = {"tier": "web"}
    body["spec"]["containers"][0]["bogus"] = True

    with pytest.raises(ApiException) as caught:
        await core.replace_namespaced_pod("replaced", "default", body, field_validation="Strict")
    assert caught.value.status == 400
    assert _status(caught.value)["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].bogus"'
    )

    _, status, headers = await core.replace_namespaced_pod_with_http_info(
        "replaced", "default", body, field_validation="Warn"
    )
    assert status == 200
    assert headers.getall("Warning") == ['299 - "unknown field \\"spec.containers[0].bogus\\""']
    stored = sim_cluster.store.get("pods", "default", "replaced")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"tier": "web"}
    assert "bogus" not in stored["spec"]["containers"][0]


async def test_patch_strict_rejects_with_patch_map(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("patched"))
    patch = {"metadata": {"labels": {"a": "b"}}, "spec": {"foo": 1}}
    with pytest.raises(ApiException) as caught:
        await core.patch_namespaced_pod(
            "patched", "default", patch, field_validation="Strict", _content_type=_SMP
        )
    status = _status(caught.value)
    cause = (
        'Invalid value: "map[metadata:map[labels:map[a:b]] spec:map[foo:1]]": '
        'strict decoding error: unknown field "spec.foo"'
    )
    assert caught.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == f' "" is invalid: patch: {cause}'
    assert status["details"] == {
        "causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]
    }
    stored = sim_cluster.store.get("pods", "default", "patched")
    assert stored is not None
    assert "a" not in stored["metadata"].get("labels", {})


async def test_patch_warn_applies_known_fields(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("merged"))
    patch = {"metadata": {"labels": {"a": "b"}, "extra": 1}}
    _, status, headers = await core.patch_namespaced_pod_with_http_info(
        "merged", "default", patch, _content_type=_MERGE
    )
    assert status == 200
    assert headers.getall("Warning") == ['299 - "unknown field \\"metadata.extra\\""']
    stored = sim_cluster.store.get("pods", "default", "merged")
    assert stored is not None
    assert stored["metadata"]["labels"]["a"] == "b"
    assert "extra" not in stored["metadata"]


async def test_patch_strict_json_patch_shows_object(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", unschedulable_pod("jsonpatched"))
    operations = [{"op": "add", "path": "/spec/zzz", "value": 1}]
    with pytest.raises(ApiException) as caught:
        await core.patch_namespaced_pod(
            "jsonpatched",
            "default",
            operations,
            field_validation="Strict",
            _content_type="application/json-patch+json",
        )
    message = _status(caught.value)["message"]
    assert caught.value.status == 422
    assert message.startswith(' "" is invalid: patch: Invalid value: "{\\"apiVersion\\":\\"v1\\",')
    assert message.endswith('": strict decoding error: unknown field "spec.zzz"')
    assert '\\"zzz\\":1' in message


# -- the simulator's own objects -----------------------------------------------------------


async def _wait_for_pod(
    core: client.CoreV1Api, name: str, predicate: Callable[[client.V1Pod], bool]
) -> None:
    stream = watch.Watch()
    async with asyncio.timeout(20):
        async for event in stream.stream(
            core.list_namespaced_pod, "default", field_selector=f"metadata.name={name}"
        ):
            if predicate(event["object"]):
                stream.stop()
                return


async def test_sim_objects_have_no_unknown_fields(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    # Unknown fields in stored objects would come back as warnings on every later patch.
    await core.create_namespaced_pod("default", pod_body("runner"))
    await core.create_namespaced_pod("default", pod_body("broken", image="does-not-exist"))
    await _wait_for_pod(core, "runner", lambda pod: pod.status.phase == "Running")
    await _wait_for_pod(core, "broken", lambda pod: bool(pod.status.container_statuses))

    checked: dict[str, int] = {}
    for resource in RESOURCES:
        kind = Kind(resource.group, resource.version, resource.kind)
        for obj in sim_cluster.store.list(resource.plural, None):
            body = copy.deepcopy({"kind": resource.kind, "apiVersion": resource.api_version, **obj})
            assert prune_unknown_fields(kind, body) == [], (resource.plural, obj["metadata"])
            checked[resource.plural] = checked.get(resource.plural, 0) + 1
    assert checked["pods"] == 2
    assert checked["nodes"] >= 1
    assert checked["namespaces"] >= 2
    assert checked["events"] >= 1
