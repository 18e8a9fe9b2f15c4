"""Pod requests: create, delete and get, as raw JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .transport import KubeTransport

__all__ = ["PodClient", "pods_path"]


def pods_path(namespace: str) -> str:
    """Return the collection path of pods in `namespace`."""
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"


def events_path(namespace: str) -> str:
    """Return the collection path of core/v1 Events in `namespace`."""
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/events"


class PodClient:
    """Pod requests in one namespace. Errors are those of `KubeTransport`."""

    def __init__(self, transport: KubeTransport, namespace: str) -> None:
        self.transport = transport
        self.namespace = namespace
        self.collection = pods_path(namespace)

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """POST the pod and return the object the API server stored."""
        return await self.transport.request_json("POST", self.collection, body=manifest)

    async def get(self, name: str) -> dict[str, Any]:
        """GET one pod."""
        return await self.transport.request_json("GET", f"{self.collection}/{quote(name, safe='')}")

    async def delete(self, name: str, *, grace_period_seconds: int | None = None) -> dict[str, Any]:
        """DELETE one pod (graceful unless `grace_period_seconds` is 0)."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        return await self.transport.request_json(
            "DELETE", f"{self.collection}/{quote(name, safe='')}", body=body
        )
