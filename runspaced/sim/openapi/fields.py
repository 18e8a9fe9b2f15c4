"""Unknown fields in request bodies and the fieldValidation directive that decides their fate.

The real API server decodes bodies into typed structs, so a field without a struct
member never reaches storage, whatever the directive. The decoder names each dropped
field by its path, such as ``spec.containers[0].foo``, and map values extend the path
with ``.key``. `prune_unknown_fields` does the same walk over the catalog.

`FieldValidation` then applies the directive of one request (apiserver 1.27 and later):
Ignore drops the fields silently, Warn (the default) also records one warning each,
and Strict rejects the request with the message the real server sends.

NOTE: duplicate keys are not reported, because the JSON decoder keeps the last one
where the real decoder reports ``duplicate field "name"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..patch import STRATEGIC_MERGE_PATCH
from ..resources import Resource
from ..status import ApiError, FieldError, bad_request, invalid
from .document import catalog
from .models import Catalog, FieldType, Kind, ListOf, MapOf, Ref

__all__ = ["DIRECTIVES", "FieldValidation", "prune_unknown_fields"]

DIRECTIVES = ("Ignore", "Warn", "Strict")
# The values metav1 accepts, sorted as field.NotSupported lists them ("" means Warn).
_SUPPORTED_VALUES = 'supported values: "", "Ignore", "Strict", "Warn"'


# -- pruning -------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(
    loaded: Catalog, value: Any, field_type: FieldType, path: str, unknown: list[str]
) -> None:
    # Values of the wrong JSON type are left alone: their errors are not unknown fields.
    if isinstance(field_type, Ref):
        definition = loaded.definitions.get(field_type.definition)
        if definition is None or not isinstance(value, dict):
            return
        for key in list(value):
            child = _join(path, key)
            known = definition.fields.get(key)
            if known is None:
                unknown.append(child)
                del value[key]
            else:
                _prune(loaded, value[key], known.type, child, unknown)
    elif isinstance(field_type, ListOf) and isinstance(value, list):
        for index, item in enumerate(value):
            _prune(loaded, item, field_type.item, f"{path}[{index}]", unknown)
    elif isinstance(field_type, MapOf) and isinstance(value, dict):
        for key, item in value.items():
            _prune(loaded, item, field_type.value, _join(path, key), unknown)


def prune_unknown_fields(kind: Kind, obj: dict[str, Any]) -> list[str]:
    """Delete from `obj`, in place, every field the schema of `kind` does not define.

    Returns the paths of the deleted fields in document order, such as
    ``["spec.containers[0].foo"]``, and an empty list for a kind not in the catalog.
    The first call in a process imports the models (see `document.catalog`); a started
    `ApiServer` has already done so.
    """
    loaded = catalog()
    definition = loaded.definition_for(kind)
    if definition is None:
        return []
    unknown: list[str] = []
    _prune(loaded, obj, Ref(definition.name), "", unknown)
    return unknown


# -- rendering values the way Go prints them -----------------------------------------------


def _go_quote(text: str) -> str:
    """Quote `text` as Go's %q does, close enough for messages (JSON string escaping)."""
    return json.dumps(text, ensure_ascii=False)


def _go_value(value: Any) -> str:
    """Format a decoded JSON value as Go's %+v prints ``map[string]interface{}`` trees."""
    if isinstance(value, dict):
        items = " ".join(f"{key}:{_go_value(value[key])}" for key in sorted(value))
        return f"map[{items}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the directive -------------------------------------------------------------------------


@dataclass(slots=True)
class FieldValidation:
    """The fieldValidation directive of one create, update or patch, and its warnings.

    Under Warn, `warnings` collects one ``unknown field "path"`` text per dropped field,
    and the server sends each as a ``Warning: 299 - "..."`` response header.
    """

    directive: str = "Warn"
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, value: str | None, options_kind: str) -> FieldValidation:
        """Parse the ``fieldValidation`` query value of a request, where absent or empty is Warn.

        `options_kind` names the request's options type in the error: CreateOptions,
        UpdateOptions or PatchOptions. Raises ApiError 422 Invalid for any other value,
        as ValidateCreateOptions does (the value is case-sensitive).
        """
        if not value:
            return cls("Warn")
        if value not in DIRECTIVES:
            error = FieldError("not_supported", "fieldValidation", _SUPPORTED_VALUES, value)
            raise invalid(options_kind, "", [error], group="meta.k8s.io")
        return cls(value)

    def _record(self, unknown: list[str]) -> None:
        for path in unknown:
            text = f'unknown field "{path}"'
            if text not in self.warnings:
                self.warnings.append(text)

    def check_body(self, resource: Resource, body: dict[str, Any]) -> None:
        """Drop the unknown fields of a create or update body, then apply the directive.

        Raises ApiError 400 BadRequest under Strict, with the decoder's message: ``Pod in
        version "v1" cannot be handled as a Pod: strict decoding error: unknown field
        "spec.foo", unknown field "spec.bar"``.
        """
        unknown = prune_unknown_fields(Kind(resource.group, resource.version, resource.kind), body)
        if not unknown or self.directive == "Ignore":
            return
        if self.directive == "Warn":
            self._record(unknown)
            return
        kind = body.get("kind") or resource.kind
        version = str(body.get("apiVersion") or resource.api_version).rsplit("/", 1)[-1]
        raise bad_request(
            f'{kind} in version "{version}" cannot be handled as a {resource.kind}: '
            f"{_strict_decoding_error(unknown)}"
        )

    def check_patch(
        self, resource: Resource, patched: dict[str, Any], content_type: str, patch: Any
    ) -> None:
        """Drop the unknown fields of a patched object, then apply the directive.

        Raises ApiError 422 Invalid under Strict, as the real patch handler does: the
        cause names field ``patch`` and shows the patch map (strategic merge patch) or the
        patched object (JSON and merge patches).

        NOTE: the patched object is shown as compact JSON with sorted keys, where the
        real server keeps untouched parts in Go struct order. Unknown keys in JSON patch
        operations are not reported.
        """
        strategic = content_type.split(";", 1)[0].strip().lower() == STRATEGIC_MERGE_PATCH
        value_text = ""
        if self.directive == "Strict" and not strategic:
            # Rendered before pruning, because the message shows the unknown fields too.
            value_text = json.dumps(
                patched, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )

        unknown = prune_unknown_fields(
            Kind(resource.group, resource.version, resource.kind), patched
        )
        if not unknown or self.directive == "Ignore":
            return
        if self.directive == "Warn":
            self._record(unknown)
            return
        if strategic:
            value_text = _go_value(patch)
        cause = f"Invalid value: {_go_quote(value_text)}: {_strict_decoding_error(unknown)}"
        # errors.NewInvalid with an empty GroupKind and name: the message starts with a
        # space and the details carry only the cause.
        raise ApiError(
            422,
            f' "" is invalid: patch: {cause}',
            "Invalid",
            {"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]},
        )


def _strict_decoding_error(unknown: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)
