"""Request and response documents of the HTTP API (pydantic models, shown in /openapi.json).

`runspace_document` converts an engine `RunspaceInfo` into the JSON document every route
returns for a runspace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._types import RunspaceInfo, RunspaceState
from .profiles import EXPIRES_AT_LABEL, PROFILE_LABEL

__all__ = [
    "RUNSPACE_ID_PATTERN",
    "CreateRequest",
    "EndpointDocument",
    "HealthDocument",
    "ProblemDocument",
    "ResourcesRequest",
    "RunspaceDocument",
    "RunspaceList",
    "runspace_document",
]

# A pod name is a DNS label; runspace ids are used as pod names.
RUNSPACE_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

StateName = Literal["creating", "ready", "error", "timeout", "terminating", "deleted"]
PhaseName = Literal["scheduling", "initializing", "pulling", "starting", "verifying", "ready"]


class ResourcesRequest(BaseModel):
    """Container resources as Kubernetes quantities, e.g. ``{"cpu": "500m"}``."""

    model_config = ConfigDict(extra="forbid")

    requests: dict[str, str] = Field(default_factory=dict, max_length=3)
    limits: dict[str, str] = Field(default_factory=dict, max_length=3)


class CreateRequest(BaseModel):
    """Body of ``POST /v1/runspaces``. Only `profile` is required.

    Everything else overrides the profile, and only where the profile allows it.
    Unknown fields are rejected, so a pod spec cannot be smuggled in.
    """

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(
        min_length=1, max_length=63, description="Name of an operator-defined profile."
    )
    image: str | None = Field(default=None, min_length=1, max_length=512)
    env: dict[str, str] | None = Field(
        default=None, description="Environment variables to add or override."
    )
    labels: dict[str, str] | None = Field(default=None, description="Pod labels to add.")
    port: int | None = Field(default=None, ge=1, le=65535)
    resources: ResourcesRequest | None = None
    ttl_seconds: float | None = Field(
        default=None, gt=0, description="Delete the runspace this many seconds after creation."
    )


class EndpointDocument(BaseModel):
    """Address of a ready runspace."""

    host: str
    port: int
    url: str = Field(description="http://host:port/ for HTTP servers.")


class RunspaceDocument(BaseModel):
    """One runspace as the daemon knows it."""

    id: str
    state: StateName
    phase: PhaseName
    image: str
    profile: str | None = None
    reason: str | None = None
    message: str | None = None
    detail: str | None = None
    endpoint: EndpointDocument | None = None
    pod_name: str
    namespace: str
    node: str | None = None
    pod_ip: str | None = None
    created_at: datetime | None = None
    ready_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    phase_seconds: dict[str, float] = Field(default_factory=dict)


class RunspaceList(BaseModel):
    """Result of ``GET /v1/runspaces``."""

    items: list[RunspaceDocument]
    count: int


class ProblemError(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class ProblemDocument(BaseModel):
    """RFC 9457 problem details; extra members depend on the problem type."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    runspace_id: str | None = None
    errors: list[ProblemError] | None = None
    runspace: RunspaceDocument | None = None


class HealthDocument(BaseModel):
    """Result of ``/healthz`` and ``/readyz``."""

    status: Literal["ok", "unavailable"]
    synced: bool
    watch_connected: bool
    last_event_age_s: float | None = None
    restarts: int = 0
    relists: int = 0
    last_error: str | None = None
    shutting_down: bool = False


def _expiry(labels: dict[str, str]) -> datetime | None:
    text = labels.get(EXPIRES_AT_LABEL)
    if text is None or not text.isdigit():
        return None
    return datetime.fromtimestamp(int(text), tz=UTC)


def runspace_document(info: RunspaceInfo) -> dict[str, Any]:
    """Convert `info` into the JSON-ready runspace document (the `RunspaceDocument` shape)."""
    labels = dict(info.labels)
    endpoint: dict[str, Any] | None = None
    if info.endpoint is not None and info.state is RunspaceState.READY:
        endpoint = {
            "host": info.endpoint.host,
            "port": info.endpoint.port,
            "url": f"http://{info.endpoint}/",
        }

    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    expires_at = _expiry(labels)
    return {
        "id": info.id,
        "state": info.state.value,
        "phase": info.phase.value,
        "image": info.image,
        "profile": labels.get(PROFILE_LABEL),
        "reason": info.reason,
        "message": info.message,
        "detail": info.detail,
        "endpoint": endpoint,
        "pod_name": info.pod_name,
        "namespace": info.namespace,
        "node": info.node,
        "pod_ip": info.pod_ip,
        "created_at": stamp(info.created_at),
        "ready_at": stamp(info.ready_at),
        "finished_at": stamp(info.finished_at),
        "expires_at": stamp(expires_at),
        "labels": labels,
        "phase_seconds": {str(k): float(v) for k, v in info.phase_seconds.items()},
    }
