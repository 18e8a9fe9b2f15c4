"""A real kubectl against the simulated cluster (the newest versioned kubectl found).

client-go sends a kubeconfig's token only over TLS, so these tests run the cluster with
``tls=True``. They are skipped when no kubectl binary exists. kubectl validates with its
default ``--validate=strict``: it reads the OpenAPI v3 documents, sees that the server
accepts ``fieldValidation`` and sends ``fieldValidation=Strict``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from runspaced.sim import SimCluster

pytestmark = [pytest.mark.anyio, pytest.mark.kubectl, pytest.mark.sim_cluster(tls=True)]


def _newest_kubectl() -> str | None:
    found = shutil.which("kubectl")
    if found is None:
        return None
    directory = Path(os.path.realpath(found)).parent
    versioned: list[tuple[tuple[int, ...], Path]] = []
    for candidate in directory.glob("kubectl.*"):
        match = re.fullmatch(r"kubectl\.(\d+)\.(\d+)", candidate.name)
        if match and os.access(candidate, os.X_OK):
            versioned.append(((int(match[1]), int(match[2])), candidate))
    if versioned:
        return str(max(versioned)[1])
    return found


KUBECTL = _newest_kubectl()
if KUBECTL is None:
    pytestmark.append(pytest.mark.skip(reason="no kubectl binary on the PATH"))

POD_MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: kubectl-test}}
spec:
  containers:
  - name: main
    image: nginx:1.27
    ports: [{{containerPort: 80}}]
"""


async def _kubectl(
    cluster: SimCluster, *args: str, stdin: str | None = None, timeout: float = 30
) -> tuple[int, str, str]:
    assert KUBECTL is not None
    # A cache directory per cluster keeps kubectl's OpenAPI and discovery cache out of HOME.
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(cluster.kubeconfig_path),
        "--cache-dir",
        str(cluster.kubeconfig_path.parent / "kubectl-cache"),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin else None), timeout
    )
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def _create(cluster: SimCluster, name: str) -> None:
    code, out, err = await _kubectl(
        cluster, "create", "-f", "-", stdin=POD_MANIFEST.format(name=name)
    )
    assert code == 0, err
    assert out.strip() == f"pod/{name} created"


async def test_create_wait_get_delete(sim_cluster: SimCluster) -> None:
    await _create(sim_cluster, "kubectl-pod")

    code, out, err = await _kubectl(
        sim_cluster, "wait", "--for=condition=Ready", "pod/kubectl-pod", "--timeout=20s"
    )
    assert code == 0, err
    assert out.strip() == "pod/kubectl-pod condition met"

    code, out, err = await _kubectl(sim_cluster, "get", "pods")
    assert code == 0, err
    header, *rows = out.strip().splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[0].split()[:3] == ["kubectl-pod", "1/1", "Running"]

    code, out, err = await _kubectl(sim_cluster, "get", "pod", "kubectl-pod", "-o", "json")
    assert code == 0, err
    pod = json.loads(out)
    assert pod["kind"] == "Pod"
    assert pod["status"]["phase"] == "Running"

    code, out, err = await _kubectl(sim_cluster, "delete", "pod", "kubectl-pod", "--wait=true")
    assert code == 0, err
    assert out.strip() == 'pod "kubectl-pod" deleted'
    assert sim_cluster.store.get("pods", "default", "kubectl-pod") is None


async def test_get_missing_pod_message(sim_cluster: SimCluster) -> None:
    code, _, err = await _kubectl(sim_cluster, "get", "pod", "nope")
    assert code == 1
    assert 'Error from server (NotFound): pods "nope" not found' in err


async def test_create_existing_message(sim_cluster: SimCluster) -> None:
    await _create(sim_cluster, "dup")
    code, _, err = await _kubectl(
        sim_cluster, "create", "-f", "-", stdin=POD_MANIFEST.format(name="dup")
    )
    assert code == 1
    assert (
        'Error from server (AlreadyExists): error when creating "STDIN": pods "dup" already exists'
        in err
    )


async def test_get_pods_watch_streams_rows(sim_cluster: SimCluster) -> None:
    assert KUBECTL is not None
    # kubectl prints the header with the first row; an empty list prints nothing.
    await _create(sim_cluster, "first")
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(sim_cluster.kubeconfig_path),
        "get",
        "pods",
        "-w",
        "--output-watch-events",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        header = await asyncio.wait_for(process.stdout.readline(), 20)
        first = await asyncio.wait_for(process.stdout.readline(), 20)
        await _create(sim_cluster, "watched")
        seen: list[list[str]] = []
        while not any(row[:2] == ["ADDED", "watched"] for row in seen):
            line = await asyncio.wait_for(process.stdout.readline(), 20)
            seen.append(line.decode().split())
    finally:
        process.terminate()
        await process.wait()
    assert header.decode().split()[:3] == ["EVENT", "NAME", "READY"]
    assert first.decode().split()[:2] == ["ADDED", "first"]


async def test_get_nodes_and_namespaces(sim_cluster: SimCluster) -> None:
    code, out, err = await _kubectl(sim_cluster, "get", "nodes", "-o", "name")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3
    code, out, err = await _kubectl(sim_cluster, "get", "namespaces", "-o", "name")
    assert code == 0, err
    assert "namespace/default" in out.split()
    assert "namespace/kube-system" in out.split()


async def test_get_nodes_wide(sim_cluster: SimCluster) -> None:
    code, out, err = await _kubectl(sim_cluster, "get", "nodes", "-o", "wide")
    assert code == 0, err
    header, *rows = out.strip().splitlines()

    assert header.split() == [
        "NAME",
        "STATUS",
        "ROLES",
        "AGE",
        "VERSION",
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ]
    assert len(rows) == 3
    for row in rows:
        assert re.search(r"\s127\.\d+\.\d+\.\d+\s+<none>\s", row), row
        assert row.rstrip().endswith("containerd://1.7.27"), row


def _with_unknown_field(name: str) -> str:
    return POD_MANIFEST.format(name=name).replace(
        "    image: nginx:1.27\n", "    image: nginx:1.27\n    foo: bar\n"
    )


async def test_create_strict_rejects_unknown_field(sim_cluster: SimCluster) -> None:
    code, _, err = await _kubectl(sim_cluster, "create", "-f", "-", stdin=_with_unknown_field("x"))
    assert code == 1
    assert err.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" '
        'cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].foo"'
    )
    assert sim_cluster.store.get("pods", "default", "x") is None


async def test_create_validate_warn_prints_warning(sim_cluster: SimCluster) -> None:
    code, out, err = await _kubectl(
        sim_cluster, "create", "--validate=warn", "-f", "-", stdin=_with_unknown_field("warned")
    )
    assert code == 0, err
    assert out.strip() == "pod/warned created"
    assert err.strip() == 'Warning: unknown field "spec.containers[0].foo"'
    stored = sim_cluster.store.get("pods", "default", "warned")
    assert stored is not None
    assert "foo" not in stored["spec"]["containers"][0]


async def test_create_validate_ignore_is_silent(sim_cluster: SimCluster) -> None:
    code, out, err = await _kubectl(
        sim_cluster, "create", "--validate=ignore", "-f", "-", stdin=_with_unknown_field("quiet")
    )
    assert code == 0, err
    assert out.strip() == "pod/quiet created"
    assert err == ""


async def test_apply_twice_changes_label(sim_cluster: SimCluster) -> None:
    manifest = POD_MANIFEST.format(name="applied")
    code, out, err = await _kubectl(sim_cluster, "apply", "-f", "-", stdin=manifest)
    assert code == 0, err
    assert out.strip() == "pod/applied created"
    assert err == ""

    changed = manifest.replace("app: kubectl-test", "app: changed")
    code, out, err = await _kubectl(sim_cluster, "apply", "-f", "-", stdin=changed)
    assert code == 0, err
    assert out.strip() == "pod/applied configured"
    # kubectl prints a warning when it cannot compute the patch from the OpenAPI v3 schema.
    assert err == ""
    stored = sim_cluster.store.get("pods", "default", "applied")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"app": "changed"}
    annotation = stored["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert json.loads(annotation)["metadata"]["labels"] == {"app": "changed"}

    code, out, err = await _kubectl(sim_cluster, "apply", "-f", "-", stdin=changed)
    assert code == 0, err
    assert out.strip() == "pod/applied unchanged"


async def test_explain_container_ports(sim_cluster: SimCluster) -> None:
    code, out, err = await _kubectl(sim_cluster, "explain", "pod.spec.containers.ports")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["KIND:       Pod", "VERSION:    v1", "", "FIELD: ports <[]ContainerPort>"]
    assert "  containerPort\t<integer> -required-" in lines
    assert "  protocol\t<string>" in lines
    assert "DESCRIPTION:" in lines
