"""Object verbs and errors through the real kubernetes-asyncio client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from runspaced.sim import SimCluster

from .conftest import pod_body

pytestmark = pytest.mark.anyio


def _unschedulable(name: str) -> dict[str, Any]:
    """Return a pod no node matches, so it stays unbound and no kubelet touches it."""
    body = pod_body(name)
    body["spec"]["nodeSelector"] = {"no-such-label": "x"}
    return body


def _status(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


async def test_create_applies_defaults(core: client.CoreV1Api) -> None:
    pod = await core.create_namespaced_pod("default", pod_body("web", image="nginx"))
    assert pod.metadata.namespace == "default"
    assert pod.metadata.uid
    assert int(pod.metadata.resource_version) > 0
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.spec.scheduler_name == "default-scheduler"
    assert pod.spec.dns_policy == "ClusterFirst"
    assert pod.spec.containers[0].image_pull_policy == "Always"
    assert pod.status.phase == "Pending"
    assert pod.status.qos_class == "BestEffort"


async def test_pull_policy_default_for_tagged_image(core: client.CoreV1Api) -> None:
    pod = await core.create_namespaced_pod("default", pod_body("tagged", image="nginx:1.27"))
    assert pod.spec.containers[0].image_pull_policy == "IfNotPresent"


async def test_generate_name_creates_unique_name(core: client.CoreV1Api) -> None:
    body = pod_body("")
    body["metadata"] = {"generateName": "worker-"}
    first = await core.create_namespaced_pod("default", body)
    second = await core.create_namespaced_pod("default", body)
    assert first.metadata.name.startswith("worker-")
    assert len(first.metadata.name) == len("worker-") + 5
    assert first.metadata.name != second.metadata.name


async def test_get_missing_pod_is_not_found(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        await core.read_namespaced_pod("missing", "default")
    status = _status(caught.value)
    assert caught.value.status == 404
    assert status["kind"] == "Status"
    assert status["apiVersion"] == "v1"
    assert status["status"] == "Failure"
    assert status["reason"] == "NotFound"
    assert status["message"] == 'pods "missing" not found'
    assert status["details"] == {"name": "missing", "kind": "pods"}
    assert status["code"] == 404


async def test_create_in_missing_namespace(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_pod("nowhere", pod_body("p"))
    status = _status(caught.value)
    assert caught.value.status == 404
    assert status["message"] == 'namespaces "nowhere" not found'
    assert status["details"]["kind"] == "namespaces"


async def test_create_duplicate_already_exists(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("twice"))
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_pod("default", pod_body("twice"))
    status = _status(caught.value)
    assert caught.value.status == 409
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "twice" already exists'


@pytest.mark.parametrize(
    ("mutate", "field", "cause_reason", "message_part"),
    [
        (
            lambda b: b["metadata"].update(name="Bad_Name"),
            "metadata.name",
            "FieldValueInvalid",
            'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of',
        ),
        (
            lambda b: b["spec"].update(containers=[]),
            "spec.containers",
            "FieldValueRequired",
            "Required value",
        ),
        (
            lambda b: b["spec"]["containers"][0].update(image=""),
            "spec.containers[0].image",
            "FieldValueRequired",
            "Required value",
        ),
        (
            lambda b: b["spec"]["containers"][0].update(name="Web_1"),
            "spec.containers[0].name",
            "FieldValueInvalid",
            'Invalid value: "Web_1": a lowercase RFC 1123 label must consist of',
        ),
        (
            lambda b: b["spec"]["containers"][0].update(ports=[{"containerPort": 70000}]),
            "spec.containers[0].ports[0].containerPort",
            "FieldValueInvalid",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            lambda b: b["spec"].update(restartPolicy="Sometimes"),
            "spec.restartPolicy",
            "FieldValueNotSupported",
            'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
    ],
)
async def test_invalid_pod_rejected(
    core: client.CoreV1Api, mutate: Any, field: str, cause_reason: str, message_part: str
) -> None:
    body = pod_body("valid-name")
    mutate(body)
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_pod("default", body)
    status = _status(caught.value)
    assert caught.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == "Pod"
    causes = status["details"]["causes"]
    assert [c["field"] for c in causes] == [field]
    assert causes[0]["reason"] == cause_reason
    assert message_part in causes[0]["message"]
    name = body["metadata"]["name"]
    assert status["message"].startswith(f'Pod "{name}" is invalid: {field}: ')


async def test_several_errors_listed_in_brackets(core: client.CoreV1Api) -> None:
    body = pod_body("two-errors")
    body["spec"]["containers"][0].update(image="", name="")
    with pytest.raises(ApiException) as caught:
        await core.create_namespaced_pod("default", body)
    status = _status(caught.value)
    assert status["message"] == (
        'Pod "two-errors" is invalid: [spec.containers[0].name: Required value, '
        "spec.containers[0].image: Required value]"
    )
    assert len(status["details"]["causes"]) == 2


async def test_merge_patch_labels(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("patched", app="a"))
    pod = await core.patch_namespaced_pod(
        "patched",
        "default",
        {"metadata": {"labels": {"app": None, "tier": "web"}, "annotations": {"k": "v"}}},
        _content_type="application/merge-patch+json",
    )
    assert pod.metadata.labels == {"tier": "web"}
    assert pod.metadata.annotations == {"k": "v"}


async def test_strategic_patch_merges_conditions(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", pod_body("conditions"))
    await core.patch_namespaced_pod_status(
        "conditions",
        "default",
        {"status": {"conditions": [{"type": "Custom", "status": "True"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    pod = await core.patch_namespaced_pod_status(
        "conditions",
        "default",
        {"status": {"conditions": [{"type": "Other", "status": "False"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    types = {c.type for c in pod.status.conditions}
    assert {"Custom", "Other"} <= types


async def test_json_patch_adds_annotation(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("jsonpatch"))
    pod = await core.patch_namespaced_pod(
        "jsonpatch",
        "default",
        [{"op": "add", "path": "/metadata/annotations", "value": {"a": "1"}}],
        _content_type="application/json-patch+json",
    )
    assert pod.metadata.annotations == {"a": "1"}


async def test_main_resource_ignores_status(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("status-kept"))
    pod = await core.patch_namespaced_pod(
        "status-kept",
        "default",
        {"status": {"message": "from main"}, "metadata": {"labels": {"x": "y"}}},
        _content_type="application/merge-patch+json",
    )
    assert pod.metadata.labels == {"x": "y"}
    assert pod.status.message != "from main"


async def test_status_subresource_changes_status_only(core: client.CoreV1Api) -> None:
    # No kubelet runs this pod, so none writes its status meanwhile.
    await core.create_namespaced_pod("default", _unschedulable("status-only"))
    pod = await core.patch_namespaced_pod_status(
        "status-only",
        "default",
        {"status": {"message": "hello"}, "metadata": {"labels": {"ignored": "yes"}}},
        _content_type="application/merge-patch+json",
    )
    assert pod.status.message == "hello"
    assert "ignored" not in (pod.metadata.labels or {})
    read = await core.read_namespaced_pod_status("status-only", "default")
    assert read.status.message == "hello"


async def test_pod_spec_change_forbidden(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", pod_body("immutable"))
    with pytest.raises(ApiException) as caught:
        await core.patch_namespaced_pod(
            "immutable",
            "default",
            {"spec": {"restartPolicy": "Never"}},
            _content_type="application/merge-patch+json",
        )
    status = _status(caught.value)
    assert caught.value.status == 422
    assert "spec: Forbidden: pod updates may not change fields other than" in status["message"]


async def test_put_with_stale_rv_conflicts(core: client.CoreV1Api) -> None:
    created = await core.create_namespaced_pod("default", pod_body("stale"))
    await core.patch_namespaced_pod(
        "stale",
        "default",
        {"metadata": {"labels": {"v": "2"}}},
        _content_type="application/merge-patch+json",
    )
    created.metadata.labels = {"v": "3"}
    with pytest.raises(ApiException) as caught:
        await core.replace_namespaced_pod("stale", "default", created)
    status = _status(caught.value)
    assert caught.value.status == 409
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on pods "stale": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


async def test_unscheduled_delete_is_immediate(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await core.create_namespaced_pod("default", _unschedulable("unscheduled"))
    deleted = await core.delete_namespaced_pod("unscheduled", "default")
    assert deleted.metadata.name == "unscheduled"
    assert sim_cluster.store.get("pods", "default", "unscheduled") is None


async def test_zero_grace_delete_is_immediate(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await _scheduled_pod(core, sim_cluster, "now")
    deleted = await core.delete_namespaced_pod("now", "default", grace_period_seconds=0)
    assert deleted.metadata.name == "now"
    assert sim_cluster.store.get("pods", "default", "now") is None


async def test_zero_grace_in_delete_options_body(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    await _scheduled_pod(core, sim_cluster, "body-grace")
    await core.delete_namespaced_pod(
        "body-grace", "default", body=client.V1DeleteOptions(grace_period_seconds=0)
    )
    assert sim_cluster.store.get("pods", "default", "body-grace") is None


async def _scheduled_pod(core: client.CoreV1Api, sim_cluster: SimCluster, name: str) -> None:
    from kubernetes_asyncio import watch

    await core.create_namespaced_pod("default", pod_body(name))
    stream = watch.Watch().stream(
        core.list_namespaced_pod,
        "default",
        field_selector=f"metadata.name={name}",
        timeout_seconds=10,
    )
    async for event in stream:
        if event["raw_object"]["spec"].get("nodeName"):
            break
    assert sim_cluster.store.get("pods", "default", name)["spec"]["nodeName"]


async def test_graceful_delete_marks_then_removes(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    from kubernetes_asyncio import watch

    await _scheduled_pod(core, sim_cluster, "graceful")
    deleted = await core.delete_namespaced_pod("graceful", "default")
    assert deleted.metadata.deletion_timestamp is not None
    assert deleted.metadata.deletion_grace_period_seconds == 30
    assert sim_cluster.store.get("pods", "default", "graceful") is not None

    # Every later event still carries the deletion mark, and the last one is DELETED.
    seen: list[tuple[str, bool]] = []
    stream = watch.Watch().stream(
        core.list_namespaced_pod,
        "default",
        field_selector="metadata.name=graceful",
        resource_version=deleted.metadata.resource_version,
        timeout_seconds=10,
    )
    async for event in stream:
        marked = bool(event["raw_object"]["metadata"].get("deletionTimestamp"))
        seen.append((event["type"], marked))
        if event["type"] == "DELETED":
            break
    assert seen[-1] == ("DELETED", True)
    assert all(marked for _, marked in seen)
    assert sim_cluster.store.get("pods", "default", "graceful") is None


async def test_lease_delete_returns_status(api_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api_client)
    await leases.create_namespaced_lease(
        "default", {"metadata": {"name": "l1"}, "spec": {"holderIdentity": "a"}}
    )
    status = await leases.delete_namespaced_lease("l1", "default")
    assert status.status == "Success"
    assert status.details.name == "l1"


async def test_dry_run_create_stores_nothing(
    core: client.CoreV1Api, sim_cluster: SimCluster
) -> None:
    rv = sim_cluster.store.resource_version
    pod = await core.create_namespaced_pod("default", pod_body("dry"), dry_run="All")
    assert pod.metadata.name == "dry"
    assert pod.spec.restart_policy == "Always"
    assert pod.metadata.resource_version is None
    assert sim_cluster.store.get("pods", "default", "dry") is None
    assert sim_cluster.store.resource_version == rv


async def test_dry_run_delete_rejected(core: client.CoreV1Api) -> None:
    await core.create_namespaced_pod("default", _unschedulable("kept"))
    with pytest.raises(ApiException) as caught:
        await core.delete_namespaced_pod("kept", "default", dry_run="All")
    assert caught.value.status == 400
    assert (await core.read_namespaced_pod("kept", "default")).metadata.name == "kept"
