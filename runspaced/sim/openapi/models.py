"""Field types, descriptions and required flags read from kubernetes-asyncio's models.

kubernetes-asyncio generates one class per OpenAPI definition (``V1Pod``, ``V1Container``,
``CoreV1Event``). Each class lists its fields in ``openapi_types`` (Python attribute name
to a type expression such as ``list[V1Container]`` or ``dict(str, str)``) and
``attribute_map`` (attribute name to JSON name). Property docstrings carry the field
descriptions, and setters raise ValueError on None for required fields. `load_catalog`
walks these classes from the served kinds and returns a `Catalog` keyed by the real
definition names (``io.k8s.api.core.v1.Pod``).

The generator flattens a few types, and this module restores them from small tables:
IntOrString and FieldsV1 become ``object``, Quantity becomes ``str``, and Time and
MicroTime both become ``datetime``.

Importing the models is slow (0.4 to 0.7 s measured on a loaded 2-core machine), so
nothing here imports them at module load. `load_catalog` imports them on first use and
caches the result.
"""

from __future__ import annotations

import functools
import importlib
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FIELDS_V1",
    "INT_OR_STRING",
    "MICRO_TIME",
    "QUANTITY",
    "TIME",
    "Catalog",
    "Definition",
    "Field",
    "FieldType",
    "FreeForm",
    "Kind",
    "ListOf",
    "MapOf",
    "Ref",
    "Scalar",
    "load_catalog",
    "root_kinds",
]

_CORE = "io.k8s.api.core.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_COORDINATION = "io.k8s.api.coordination.v1."

TIME = _META + "Time"
MICRO_TIME = _META + "MicroTime"
FIELDS_V1 = _META + "FieldsV1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

# Definitions outside core/v1, by the kind part of their model name.
_PACKAGE_BY_KIND = {
    **{
        kind: _META
        for kind in (
            "DeleteOptions",
            "LabelSelector",
            "LabelSelectorRequirement",
            "ListMeta",
            "ManagedFieldsEntry",
            "ObjectMeta",
            "OwnerReference",
            "Preconditions",
            "Status",
            "StatusCause",
            "StatusDetails",
        )
    },
    **{kind: _COORDINATION for kind in ("Lease", "LeaseList", "LeaseSpec")},
}
_PACKAGE_BY_GROUP_PREFIX = {"Core": _CORE, "Coordination": _COORDINATION}

# Fields the generator typed as "object": (definition kind, JSON field) -> definition.
_OBJECT_FIELDS = {
    ("HTTPGetAction", "port"): INT_OR_STRING,
    ("TCPSocketAction", "port"): INT_OR_STRING,
    ("ManagedFieldsEntry", "fieldsV1"): FIELDS_V1,
}
# Fields the generator typed as "str" or "dict(str, str)" that hold a Quantity.
_QUANTITY_FIELDS = frozenset(
    {
        ("ResourceRequirements", "limits"),
        ("ResourceRequirements", "requests"),
        ("VolumeResourceRequirements", "limits"),
        ("VolumeResourceRequirements", "requests"),
        ("PodSpec", "overhead"),
        ("NodeStatus", "capacity"),
        ("NodeStatus", "allocatable"),
        ("ContainerStatus", "allocatedResources"),
        ("EmptyDirVolumeSource", "sizeLimit"),
        ("ResourceFieldSelector", "divisor"),
    }
)
# "datetime" fields that are MicroTime. Every other "datetime" field is a Time.
_MICRO_TIME_FIELDS = frozenset(
    {
        ("Event", "eventTime"),
        ("EventSeries", "lastObservedTime"),
        ("LeaseSpec", "acquireTime"),
        ("LeaseSpec", "renewTime"),
    }
)
_SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}

_MODEL_NAME = re.compile(r"^(?P<prefix>[A-Z][a-z]+)?V\d+(?:alpha\d+|beta\d+)?(?P<kind>[A-Z]\w*)$")
_LIST = re.compile(r"^list\[(?P<item>.+)\]$")
_DICT = re.compile(r"^dict\(str, (?P<value>.+)\)$")
_NOQA = re.compile(r"\s*# noqa: E501")


# -- field types ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scalar:
    """A JSON scalar of OpenAPI type `openapi_type` (string, integer, number, boolean)."""

    openapi_type: str


@dataclass(frozen=True, slots=True)
class Ref:
    """A value described by the definition named `definition`."""

    definition: str


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON array whose items have type `item`."""

    item: FieldType


@dataclass(frozen=True, slots=True)
class MapOf:
    """A JSON object with free keys whose values have type `value`."""

    value: FieldType


@dataclass(frozen=True, slots=True)
class FreeForm:
    """A JSON object of any shape, such as a RawExtension."""


FieldType = Scalar | Ref | ListOf | MapOf | FreeForm


@dataclass(frozen=True, slots=True)
class Field:
    """One property of a definition: its type, description and whether it is required."""

    type: FieldType
    description: str
    required: bool


@dataclass(frozen=True, slots=True)
class Kind:
    """A group, version and kind, as in ``x-kubernetes-group-version-kind``."""

    group: str
    version: str
    kind: str

    def as_extension(self) -> dict[str, str]:
        """Return the value OpenAPI documents use: ``{"group", "kind", "version"}``."""
        return {"group": self.group, "kind": self.kind, "version": self.version}


@dataclass(slots=True)
class Definition:
    """One object definition with its properties in the model's field order.

    `kinds` is non-empty for the top-level kinds (Pod, PodList, Status), which carry
    ``x-kubernetes-group-version-kind``.
    """

    name: str
    fields: dict[str, Field]
    kinds: list[Kind] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        """The last part of the name, such as ``Container``."""
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Object definitions reachable from a set of kinds, keyed by definition name.

    Scalar definitions (Time, MicroTime, Quantity, IntOrString, FieldsV1) are referenced
    by `Ref` but have no entry here, because they have no properties.
    """

    definitions: dict[str, Definition]
    roots: dict[Kind, str]

    def definition_for(self, kind: Kind) -> Definition | None:
        """Return the definition of a top-level kind, None if it was not loaded."""
        name = self.roots.get(kind)
        return self.definitions[name] if name is not None else None


# -- reading models ------------------------------------------------------------------------


def _definition_name(model_name: str) -> str:
    """Map ``V1Container`` to ``io.k8s.api.core.v1.Container``. Raises ValueError if unknown."""
    match = _MODEL_NAME.match(model_name)
    if match is None:
        raise ValueError(f"unknown model name {model_name!r}")
    kind = match["kind"]
    prefix = match["prefix"]
    if prefix is not None:
        package = _PACKAGE_BY_GROUP_PREFIX.get(prefix)
        if package is None:
            raise ValueError(f"model {model_name!r} is in an unsupported API group")
        return package + kind
    return _PACKAGE_BY_KIND.get(kind, _CORE) + kind


def _description(model: Any, attribute: str) -> str:
    """Return the field description from the property's docstring, or ``""``.

    The generator writes "Gets the x of this Model.", a blank line, the description, a
    blank line and the ``:return:`` lines.
    """
    prop = getattr(model, attribute, None)
    doc = getattr(getattr(prop, "fget", None), "__doc__", None) or ""
    paragraphs = [_NOQA.sub("", part).strip() for part in doc.split("\n\n")]
    body = [p for p in paragraphs[1:] if p and not p.startswith(":")]
    return "\n\n".join(body)


def _required(model: Any) -> set[str]:
    """Return the attributes whose setters reject None when validation is on."""
    instance = object.__new__(model)
    instance.local_vars_configuration = types.SimpleNamespace(client_side_validation=True)
    required: set[str] = set()
    for attribute in model.openapi_types:
        try:
            setattr(instance, attribute, None)
        except ValueError:
            required.add(attribute)
    return required


def _field_type(expression: str, owner: str, json_name: str, pending: list[str]) -> FieldType:
    """Parse one ``openapi_types`` expression and append the models it names to `pending`."""
    list_match = _LIST.match(expression)
    if list_match:
        return ListOf(_field_type(list_match["item"], owner, json_name, pending))
    dict_match = _DICT.match(expression)
    if dict_match:
        return MapOf(_field_type(dict_match["value"], owner, json_name, pending))
    if expression in _SCALARS:
        if expression == "str" and (owner, json_name) in _QUANTITY_FIELDS:
            return Ref(QUANTITY)
        return Scalar(_SCALARS[expression])
    if expression == "datetime":
        return Ref(MICRO_TIME if (owner, json_name) in _MICRO_TIME_FIELDS else TIME)
    if expression == "object":
        special = _OBJECT_FIELDS.get((owner, json_name))
        return Ref(special) if special is not None else FreeForm()
    pending.append(expression)
    return Ref(_definition_name(expression))


def _read_model(model: Any, name: str, pending: list[str]) -> Definition:
    owner = name.rsplit(".", 1)[-1]
    required = _required(model)
    fields: dict[str, Field] = {}
    for attribute, expression in model.openapi_types.items():
        json_name = model.attribute_map[attribute]
        field_type = _field_type(expression, owner, json_name, pending)
        fields[json_name] = Field(field_type, _description(model, attribute), attribute in required)
    return Definition(name, fields)


def _model_class(models: Any, kind: Kind) -> tuple[str, type]:
    """Return the model class of a kind: ``CoreV1Event`` where names collide, else ``V1Pod``."""
    version = kind.version[:1].upper() + kind.version[1:]
    prefix = (kind.group.split(".", 1)[0] or "core").title()
    for candidate in (f"{prefix}{version}{kind.kind}", f"{version}{kind.kind}"):
        model = getattr(models, candidate, None)
        if isinstance(model, type):
            return candidate, model
    raise LookupError(f"kubernetes-asyncio has no model for {kind}")


@functools.cache
def load_catalog(kinds: tuple[Kind, ...]) -> Catalog:
    """Import the models and return the definitions reachable from `kinds`.

    The first call imports kubernetes_asyncio.client.models (see the module docstring),
    and later calls with the same `kinds` return the cached catalog. Raises LookupError when a
    kind has no model and ValueError when a referenced model is in a group this module
    does not map.
    """
    models = importlib.import_module("kubernetes_asyncio.client.models")
    definitions: dict[str, Definition] = {}
    roots: dict[Kind, str] = {}
    pending: list[str] = []
    for kind in kinds:
        model_name, _ = _model_class(models, kind)
        name = _definition_name(model_name)
        roots[kind] = name
        pending.append(model_name)

    while pending:
        model_name = pending.pop()
        name = _definition_name(model_name)
        if name in definitions:
            continue
        definitions[name] = _read_model(getattr(models, model_name), name, pending)

    for kind, name in roots.items():
        definitions[name].kinds.append(kind)
    return Catalog(definitions, roots)


def root_kinds(served: Iterable[tuple[str, str, str]]) -> tuple[Kind, ...]:
    """Return the kinds to load for served (group, version, kind) triples, with their lists.

    Status and DeleteOptions are added because every API group returns and accepts them.
    """
    kinds: list[Kind] = []
    for group, version, kind in served:
        kinds.append(Kind(group, version, kind))
        kinds.append(Kind(group, version, f"{kind}List"))
    kinds.append(Kind("", "v1", "Status"))
    kinds.append(Kind("", "v1", "DeleteOptions"))
    return tuple(dict.fromkeys(kinds))
