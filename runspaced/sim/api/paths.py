"""Map API URLs to (resource, namespace, name, subresource) and request verbs."""

from __future__ import annotations

from dataclasses import dataclass

from ..resources import Resource, find_resource
from ..status import ApiError

__all__ = ["Target", "parse_target", "request_verb"]


@dataclass(frozen=True, slots=True)
class Target:
    """The object or collection a request addresses.

    `namespace` is None for cluster-scoped resources and for all-namespace collections
    (``/api/v1/pods``). `name` is None for collections.
    """

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def counter_resource(self) -> str:
        """The resource name request counters use, e.g. ``pods/status``."""
        if self.subresource:
            return f"{self.resource.plural}/{self.subresource}"
        return self.resource.plural


def _not_found_path() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", "NotFound")


def parse_target(path: str) -> Target | None:
    """Return the target of a resource URL, None if the path is not a resource URL.

    Raises ApiError 404 when the path has the shape of a resource URL but names a
    resource type or subresource this server does not serve.
    """
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None

    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = find_resource(group, version, rest[0])
    if resource is None:
        raise _not_found_path()
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) >= 3 else None
    if len(rest) > 3 or (subresource is not None and subresource not in resource.subresources):
        raise _not_found_path()
    if namespace is not None and not resource.namespaced:
        raise _not_found_path()
    if resource.namespaced and name is not None and namespace is None:
        raise _not_found_path()
    return Target(resource, namespace, name, subresource)


def request_verb(method: str, target: Target, watch: bool) -> str:
    """Return the Kubernetes verb of a request: get, list, watch, create, update, ..."""
    collection = target.name is None
    match method:
        case "GET" | "HEAD":
            if watch:
                return "watch"
            return "list" if collection else "get"
        case "POST":
            return "create"
        case "PUT":
            return "update"
        case "PATCH":
            return "patch"
        case "DELETE":
            return "deletecollection" if collection else "delete"
    return method.lower()
