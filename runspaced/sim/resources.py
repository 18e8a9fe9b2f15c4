"""The resource types the simulated API server serves, and their discovery documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "RESOURCES",
    "Resource",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "find_resource",
]

_READ_VERBS = ("get", "list", "watch")
_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource type (a plural name in one group/version)."""

    plural: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    singular: str = ""
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """The apiVersion objects of this type carry: ``v1`` or ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural.group`` as API error messages name the type (plain plural for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "pods",
        "Pod",
        "",
        "v1",
        namespaced=True,
        verbs=_ALL_VERBS,
        short_names=("po",),
        singular="pod",
        subresources=("status",),
    ),
    Resource(
        "events",
        "Event",
        "",
        "v1",
        namespaced=True,
        verbs=_ALL_VERBS,
        short_names=("ev",),
        singular="event",
    ),
    Resource(
        "namespaces",
        "Namespace",
        "",
        "v1",
        namespaced=False,
        verbs=("create", "get", "list", "patch", "update", "watch"),
        short_names=("ns",),
        singular="namespace",
        subresources=("status",),
    ),
    Resource(
        "nodes",
        "Node",
        "",
        "v1",
        namespaced=False,
        verbs=_READ_VERBS,
        short_names=("no",),
        singular="node",
        subresources=("status",),
    ),
    Resource(
        "leases",
        "Lease",
        "coordination.k8s.io",
        "v1",
        namespaced=True,
        verbs=_ALL_VERBS,
        singular="lease",
    ),
)


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    """Return the served resource for a URL's group, version and plural, or None."""
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def api_versions(server_address: str) -> dict[str, Any]:
    """Return the APIVersions document served at /api."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address},
        ],
    }


def api_group_list() -> dict[str, Any]:
    """Return the APIGroupList document served at /apis (named groups only)."""
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group:
            groups.setdefault(resource.group, [])
            if resource.version not in groups[resource.group]:
                groups[resource.group].append(resource.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [
                    {"groupVersion": f"{name}/{version}", "version": version}
                    for version in versions
                ],
                "preferredVersion": {
                    "groupVersion": f"{name}/{versions[0]}",
                    "version": versions[0],
                },
            }
            for name, versions in groups.items()
        ],
    }


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """Return the APIResourceList for one group/version, or None if it is not served."""
    entries: list[dict[str, Any]] = []
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version):
            continue
        entry: dict[str, Any] = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(resource.verbs),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        entries.append(entry)
        for subresource in resource.subresources:
            entries.append(
                {
                    "name": f"{resource.plural}/{subresource}",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    if not entries:
        return None
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }
