"""Fixtures for the simulated cluster's tests: API clients built from its kubeconfig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from runspaced.sim import SimCluster


@pytest.fixture
async def api_client(sim_cluster: SimCluster) -> AsyncIterator[client.ApiClient]:
    """A kubernetes-asyncio ApiClient loaded from the cluster's generated kubeconfig."""
    api = await config.new_client_from_config(config_file=str(sim_cluster.kubeconfig_path))
    try:
        yield api
    finally:
        await api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    """CoreV1Api on the simulated cluster."""
    return client.CoreV1Api(api_client)


def pod_body(name: str, image: str = "nginx:1.27", **labels: str) -> dict[str, Any]:
    """Return a minimal pod manifest."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


def unschedulable_pod(name: str, **labels: str) -> dict[str, Any]:
    """Return a pod no node matches: it stays Pending and no kubelet runs it."""
    body = pod_body(name, **labels)
    body["spec"]["nodeSelector"] = {"no-such-label": "x"}
    return body


async def read_watch_lines(
    list_call: Any, *args: Any, limit: int | None = None, **query: Any
) -> tuple[list[dict[str, Any]], Any]:
    """Open a watch with `list_call(*args, watch=True, **query)` and read raw JSON lines.

    Reads until the server ends the stream, or until `limit` lines arrived. Returns the
    decoded lines and the aiohttp response (closed).
    """
    import json

    response = await list_call(*args, watch=True, _preload_content=False, **query)
    lines: list[dict[str, Any]] = []
    try:
        async for raw in response.content:
            if raw.strip():
                lines.append(json.loads(raw))
            if limit is not None and len(lines) >= limit:
                break
    finally:
        response.close()
    return lines, response
