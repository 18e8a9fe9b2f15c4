"""Render a `Catalog` as OpenAPI v3 ``components.schemas``, in the real documents' shape.

A property that references another definition is written ``{"allOf": [{"$ref": ...}],
"description": ...}``, because OpenAPI 3.0 ignores siblings of ``$ref``. kubectl explain
and kubectl's strategic-merge-patch code both follow ``allOf`` and ``$ref``.

The models carry no patch metadata, so the list fields whose strategic merge patch
merges items (``x-kubernetes-patch-strategy``, ``x-kubernetes-patch-merge-key``) come
from `_LIST_EXTENSIONS`, copied from the patchStrategy and listType tags of the
core/v1 and meta/v1 Go types. Lists not named there are replaced whole by a patch.
"""

from __future__ import annotations

from typing import Any

from .models import (
    FIELDS_V1,
    INT_OR_STRING,
    MICRO_TIME,
    QUANTITY,
    TIME,
    Catalog,
    Definition,
    Field,
    FieldType,
    FreeForm,
    ListOf,
    MapOf,
    Ref,
    Scalar,
)

__all__ = ["PATCH", "component_schemas", "schema_ref"]

JsonObject = dict[str, Any]

PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"


def _map_list(*keys: str, strategy: str = "merge") -> JsonObject:
    """Return the extensions of a list merged by `keys[0]` and keyed by all of `keys`."""
    return {
        "x-kubernetes-list-map-keys": list(keys),
        "x-kubernetes-list-type": "map",
        "x-kubernetes-patch-merge-key": keys[0],
        "x-kubernetes-patch-strategy": strategy,
    }


_MERGED_SET = {"x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"}

# (definition kind, field) -> list extensions, from the Go types' patchStrategy tags.
_CONTAINER_LISTS = {
    "ports": _map_list("containerPort", "protocol"),
    "env": _map_list("name"),
    "volumeMounts": _map_list("mountPath"),
    "volumeDevices": _map_list("devicePath"),
}
_LIST_EXTENSIONS: dict[tuple[str, str], JsonObject] = {
    ("ObjectMeta", "finalizers"): _MERGED_SET,
    ("ObjectMeta", "ownerReferences"): _map_list("uid"),
    **{("Container", name): value for name, value in _CONTAINER_LISTS.items()},
    **{("EphemeralContainer", name): value for name, value in _CONTAINER_LISTS.items()},
    ("PodSpec", "containers"): _map_list("name"),
    ("PodSpec", "initContainers"): _map_list("name"),
    ("PodSpec", "ephemeralContainers"): _map_list("name"),
    ("PodSpec", "imagePullSecrets"): _map_list("name"),
    ("PodSpec", "volumes"): _map_list("name", strategy="merge,retainKeys"),
    ("PodSpec", "resourceClaims"): _map_list("name", strategy="merge,retainKeys"),
    ("PodSpec", "schedulingGates"): _map_list("name"),
    ("PodSpec", "hostAliases"): _map_list("ip"),
    ("PodSpec", "topologySpreadConstraints"): _map_list("topologyKey", "whenUnsatisfiable"),
    ("PodStatus", "conditions"): _map_list("type"),
    ("PodStatus", "podIPs"): _map_list("ip"),
    ("PodStatus", "hostIPs"): _map_list("ip"),
    ("PodStatus", "resourceClaimStatuses"): _map_list("name", strategy="merge,retainKeys"),
    ("NodeSpec", "podCIDRs"): _MERGED_SET,
    ("NodeStatus", "conditions"): _map_list("type"),
    ("NodeStatus", "addresses"): {
        "x-kubernetes-patch-merge-key": "type",
        "x-kubernetes-patch-strategy": "merge",
    },
    ("NamespaceStatus", "conditions"): _map_list("type"),
}

# Definitions without properties, written out as the real documents describe them.
_SCALAR_SCHEMAS: dict[str, JsonObject] = {
    TIME: {
        "description": "Time is a timestamp in RFC 3339 form with second precision.",
        "format": "date-time",
        "type": "string",
    },
    MICRO_TIME: {
        "description": "MicroTime is a timestamp in RFC 3339 form with microsecond precision.",
        "format": "date-time",
        "type": "string",
    },
    QUANTITY: {
        "description": "Quantity is a decimal number with an optional unit suffix, "
        "such as 500m, 128Mi or 2.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    INT_OR_STRING: {
        "description": "IntOrString holds either an integer or a string, such as 8080 or http.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    FIELDS_V1: {
        "description": "FieldsV1 is the set of fields a manager owns, as a JSON tree of "
        "field paths.",
        "type": "object",
    },
    PATCH: {
        "description": "Patch is the body of a PATCH request: a JSON patch, a JSON merge "
        "patch or a strategic merge patch.",
        "type": "object",
    },
}


def schema_ref(definition: str) -> JsonObject:
    """Return ``{"$ref": "#/components/schemas/<definition>"}``."""
    return {"$ref": f"#/components/schemas/{definition}"}


def _type_schema(field_type: FieldType) -> JsonObject:
    match field_type:
        case Scalar(openapi_type):
            return {"type": openapi_type}
        case Ref(definition):
            return schema_ref(definition)
        case ListOf(item):
            return {"type": "array", "items": _type_schema(item)}
        case MapOf(value):
            return {"type": "object", "additionalProperties": _type_schema(value)}
        case FreeForm():
            return {"type": "object"}
    raise TypeError(f"unexpected field type {field_type!r}")


def _property(owner: str, name: str, field: Field) -> JsonObject:
    schema = _type_schema(field.type)
    if isinstance(field.type, Ref):
        schema = {"allOf": [schema]}
    if field.description:
        schema["description"] = field.description
    schema.update(_LIST_EXTENSIONS.get((owner, name), {}))
    return schema


def _definition_schema(definition: Definition) -> JsonObject:
    owner = definition.short_name
    schema: JsonObject = {
        "properties": {
            name: _property(owner, name, field) for name, field in definition.fields.items()
        },
    }
    required = [name for name, field in definition.fields.items() if field.required]
    if required:
        schema["required"] = required
    schema["type"] = "object"
    if definition.kinds:
        schema["x-kubernetes-group-version-kind"] = [k.as_extension() for k in definition.kinds]
    return schema


def component_schemas(catalog: Catalog) -> dict[str, JsonObject]:
    """Return every definition of `catalog` plus the scalar ones, sorted by name."""
    schemas = {name: _definition_schema(d) for name, d in catalog.definitions.items()}
    schemas.update(_SCALAR_SCHEMAS)
    return dict(sorted(schemas.items()))
