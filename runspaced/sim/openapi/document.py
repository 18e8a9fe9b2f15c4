"""The OpenAPI v3 documents: one per served group-version, and the index at /openapi/v3.

Each document lists the served paths with their operations and the component schemas of
the kinds they serve. kubectl reads three things from it:

- A ``patch`` operation tagged ``x-kubernetes-group-version-kind`` with a
  ``fieldValidation`` query parameter: kubectl then sends ``fieldValidation=Strict``
  instead of validating on the client (cli-runtime's query param verifier).
- The same operation's request body media types: strategic-merge-patch+json makes
  ``kubectl apply`` compute a strategic merge patch from the schemas.
- The schemas tagged with the kind, which ``kubectl explain`` walks.

Only the verbs the simulator serves get operations, except that every subresource path
has get, put and patch as the dispatcher allows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from ..resources import RESOURCES, Resource
from .models import Catalog, Kind, load_catalog, root_kinds
from .schemas import PATCH, component_schemas, schema_ref

__all__ = ["GroupVersionDocument", "build_documents", "catalog", "served_kinds"]

JsonObject = dict[str, Any]

_STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
_DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
_PATCH_MEDIA_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


@dataclass(frozen=True, slots=True)
class GroupVersionDocument:
    """One group-version document: its index key (``api/v1``), JSON body and hash.

    `hash` is the upper-case hex SHA-512 of `body`, as the real server puts in the
    ``serverRelativeURL`` and the ETag.
    """

    key: str
    body: bytes
    hash: str

    @property
    def url(self) -> str:
        """The server-relative URL with the hash, as the index lists it."""
        return f"/openapi/v3/{self.key}?hash={self.hash}"


def served_kinds() -> tuple[Kind, ...]:
    """Return the kinds the simulator serves, their lists, Status and DeleteOptions."""
    return root_kinds((r.group, r.version, r.kind) for r in RESOURCES)


def catalog() -> Catalog:
    """Return the cached catalog of every served kind (imports the models on first call)."""
    return load_catalog(served_kinds())


# -- operations ----------------------------------------------------------------------------


def _parameter(name: str, location: str, description: str, kind: str = "string") -> JsonObject:
    parameter: JsonObject = {
        "name": name,
        "in": location,
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }
    if location == "path":
        parameter["required"] = True
    return parameter


_DRY_RUN = _parameter("dryRun", "query", "All: run every check without persisting.")
_FIELD_MANAGER = _parameter("fieldManager", "query", "Name of the actor making the change.")
_FIELD_VALIDATION = _parameter(
    "fieldValidation",
    "query",
    "How the server treats unknown or duplicate fields: Ignore drops them, Warn drops "
    "them and returns a Warning header for each (the default), Strict rejects the request.",
)
_FORCE = _parameter("force", "query", "Server-side apply only.", "boolean")
_LIST_PARAMETERS = [
    _parameter("allowWatchBookmarks", "query", "Send BOOKMARK events in a watch.", "boolean"),
    _parameter("continue", "query", "Token from the previous page of a paginated list."),
    _parameter("fieldSelector", "query", "Restrict the items by field values."),
    _parameter("labelSelector", "query", "Restrict the items by labels."),
    _parameter("limit", "query", "Maximum number of items in one page.", "integer"),
    _parameter("resourceVersion", "query", "Serve the list at or after this version."),
    _parameter("resourceVersionMatch", "query", "How resourceVersion is compared."),
    _parameter("timeoutSeconds", "query", "Watch timeout in seconds.", "integer"),
    _parameter("watch", "query", "Stream changes instead of listing.", "boolean"),
]
_DELETE_PARAMETERS = [
    _DRY_RUN,
    _parameter("gracePeriodSeconds", "query", "Seconds before the object is deleted.", "integer"),
    _parameter("propagationPolicy", "query", "Orphan, Background or Foreground."),
]


def _content(definition: str, media_types: tuple[str, ...] = ("application/json",)) -> JsonObject:
    return {media_type: {"schema": schema_ref(definition)} for media_type in media_types}


def _operation(
    action: str,
    operation_id: str,
    description: str,
    kind: Kind,
    response: str,
    parameters: list[JsonObject],
    body: JsonObject | None = None,
) -> JsonObject:
    codes = {"post": ("200", "201", "202"), "put": ("200", "201"), "patch": ("200", "201")}
    responses: JsonObject = {
        code: {"description": "OK", "content": _content(response)}
        for code in codes.get(action, ("200",))
    }
    responses["401"] = {"description": "Unauthorized"}
    operation: JsonObject = {
        "tags": [_tag(kind)],
        "description": description,
        "operationId": operation_id,
        "parameters": parameters,
    }
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = responses
    operation["x-kubernetes-action"] = action
    operation["x-kubernetes-group-version-kind"] = kind.as_extension()
    return operation


def _tag(kind: Kind) -> str:
    group = kind.group.split(".", 1)[0] or "core"
    return f"{group}_{kind.version}"


def _operation_prefix(kind: Kind) -> str:
    group = (kind.group.split(".", 1)[0] or "core").title()
    return f"{group}{kind.version.title()}"


def _object_operations(
    resource: Resource, kind: Kind, definition: str, subresource: str | None
) -> JsonObject:
    """Return the get, put, patch and delete operations of one object URL."""
    prefix = _operation_prefix(kind)
    scope = "Namespaced" if resource.namespaced else ""
    suffix = (subresource or "").title()
    noun = f"{scope}{kind.kind}{suffix}"
    subject = (
        f"status of the specified {kind.kind}" if subresource else f"the specified {kind.kind}"
    )
    write_parameters = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    operations: JsonObject = {}
    verbs = ("get", "update", "patch") if subresource else resource.verbs

    if "get" in verbs:
        operations["get"] = _operation(
            "get", f"read{prefix}{noun}", f"read {subject}", kind, definition, []
        )
    if "update" in verbs:
        operations["put"] = _operation(
            "put",
            f"replace{prefix}{noun}",
            f"replace {subject}",
            kind,
            definition,
            write_parameters,
            {"content": _content(definition, ("*/*",)), "required": True},
        )
    if "patch" in verbs:
        operations["patch"] = _operation(
            "patch",
            f"patch{prefix}{noun}",
            f"partially update {subject}",
            kind,
            definition,
            [*write_parameters, _FORCE],
            {"content": _content(PATCH, _PATCH_MEDIA_TYPES), "required": True},
        )
    if "delete" in verbs and not subresource:
        # Pods return the deleted object; other kinds return a Status, as objects.py does.
        response = definition if resource.plural == "pods" else _STATUS
        operations["delete"] = _operation(
            "delete",
            f"delete{prefix}{noun}",
            f"delete {subject}",
            kind,
            response,
            _DELETE_PARAMETERS,
            {"content": _content(_DELETE_OPTIONS, ("*/*",))},
        )
    return operations


def _collection_operations(
    resource: Resource, kind: Kind, definition: str, list_definition: str
) -> JsonObject:
    """Return the list, create and deletecollection operations of one collection URL."""
    prefix = _operation_prefix(kind)
    scope = "Namespaced" if resource.namespaced else ""
    operations: JsonObject = {}
    if "list" in resource.verbs:
        operations["get"] = _operation(
            "list",
            f"list{prefix}{scope}{kind.kind}",
            f"list or watch objects of kind {kind.kind}",
            kind,
            list_definition,
            _LIST_PARAMETERS,
        )
    if "create" in resource.verbs:
        operations["post"] = _operation(
            "post",
            f"create{prefix}{scope}{kind.kind}",
            f"create a {kind.kind}",
            kind,
            definition,
            [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            {"content": _content(definition, ("*/*",)), "required": True},
        )
    if "deletecollection" in resource.verbs:
        operations["delete"] = _operation(
            "deletecollection",
            f"delete{prefix}Collection{scope}{kind.kind}",
            f"delete collection of {kind.kind}",
            kind,
            _STATUS,
            [*_DELETE_PARAMETERS, *_LIST_PARAMETERS],
            {"content": _content(_DELETE_OPTIONS, ("*/*",))},
        )
    return operations


def _resource_paths(resource: Resource, catalog: Catalog) -> dict[str, JsonObject]:
    kind = Kind(resource.group, resource.version, resource.kind)
    definition = catalog.roots[kind]
    list_definition = catalog.roots[Kind(kind.group, kind.version, f"{kind.kind}List")]
    root = f"/api/{kind.version}" if not kind.group else f"/apis/{kind.group}/{kind.version}"
    namespace = _parameter("namespace", "path", "object name and auth scope")
    name = _parameter("name", "path", f"name of the {kind.kind}")
    collection = f"{root}/namespaces/{{namespace}}/{resource.plural}"
    if not resource.namespaced:
        collection = f"{root}/{resource.plural}"
    scope_parameters = [namespace] if resource.namespaced else []

    paths: dict[str, JsonObject] = {}
    operations = _collection_operations(resource, kind, definition, list_definition)
    if operations:
        paths[collection] = {**operations, "parameters": scope_parameters}
    operations = _object_operations(resource, kind, definition, None)
    if operations:
        paths[f"{collection}/{{name}}"] = {**operations, "parameters": [name, *scope_parameters]}
    for subresource in resource.subresources:
        operations = _object_operations(resource, kind, definition, subresource)
        paths[f"{collection}/{{name}}/{subresource}"] = {
            **operations,
            "parameters": [name, *scope_parameters],
        }
    if resource.namespaced and "list" in resource.verbs:
        # The list across all namespaces, such as /api/v1/pods.
        paths[f"{root}/{resource.plural}"] = {
            "get": _operation(
                "list",
                f"list{_operation_prefix(kind)}{kind.kind}ForAllNamespaces",
                f"list or watch objects of kind {kind.kind}",
                kind,
                list_definition,
                _LIST_PARAMETERS,
            ),
        }
    return paths


# -- documents -----------------------------------------------------------------------------


def _referenced(schemas: dict[str, JsonObject], start: list[str]) -> list[str]:
    """Return the names of `start` and every schema they reference, transitively."""
    seen: dict[str, None] = {}
    pending = list(start)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen[name] = None
        pending.extend(_refs(schemas[name]))
    return sorted(seen)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value.rsplit("/", 1)[-1])
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def build_documents() -> dict[str, GroupVersionDocument]:
    """Build the document of every served group-version, keyed ``api/v1`` or ``apis/g/v``.

    Imports the models on first use (see `catalog`). Raises LookupError or ValueError
    when a served kind cannot be read from the models.
    """
    loaded = catalog()
    schemas = component_schemas(loaded)
    by_group_version: dict[str, list[Resource]] = {}
    for resource in RESOURCES:
        key = f"apis/{resource.group}/{resource.version}" if resource.group else "api/v1"
        by_group_version.setdefault(key, []).append(resource)

    documents: dict[str, GroupVersionDocument] = {}
    for key, resources in by_group_version.items():
        paths: dict[str, JsonObject] = {}
        for resource in resources:
            paths.update(_resource_paths(resource, loaded))
        names = _referenced(schemas, _refs(paths))
        document = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0-runspaced-sim"},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": {name: schemas[name] for name in names}},
        }
        body = orjson.dumps(document)
        digest = hashlib.sha512(body).hexdigest().upper()
        documents[key] = GroupVersionDocument(key, body, digest)
    return documents
