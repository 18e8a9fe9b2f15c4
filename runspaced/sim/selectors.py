"""Label and field selectors as the API server parses and applies them.

Label selectors support ``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``, ``>``
and ``<``; requirements joined by commas must all hold. Field selectors support ``=``,
``==`` and ``!=`` on the fields each kind exposes; any other field is rejected with
the real server's message ``field label not supported: X``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .status import ApiError, bad_request

__all__ = ["FieldSelector", "LabelSelector", "Selector", "parse_selector"]

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _LabelRequirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case ">" | "<":
                if not present or value is None:
                    return False
                try:
                    number, bound = int(value), int(self.values[0])
                except ValueError:
                    return False
                return number > bound if self.operator == ">" else number < bound
        return False


_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class LabelSelector:
    """A parsed labelSelector; the empty selector matches everything."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.requirements = tuple(_parse_labels(text))

    def matches(self, obj: JsonObject) -> bool:
        """Return True when the object's labels satisfy every requirement."""
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements."""
        return not self.requirements


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_error(term: str, detail: str) -> ApiError:
    return bad_request(f"unable to parse requirement: {detail}: {term!r}")


def _check_key(term: str, key: str) -> None:
    if not key or len(key) > 316 or not _KEY_RE.match(key):
        raise _parse_error(
            term,
            f'key: Invalid value: "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character",
        )


def _check_value(term: str, value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise _parse_error(
            term,
            f'values[0]: Invalid value: "{value}": a valid label must be '
            "an empty string or consist of alphanumeric characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character",
        )


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")


def _parse_labels(text: str) -> list[_LabelRequirement]:
    requirements: list[_LabelRequirement] = []
    if not text.strip():
        return requirements
    for raw in _split_top_level(text):
        term = raw.strip()
        if not term:
            raise _parse_error(raw, "found '', expected: identifier")
        set_match = _SET_RE.match(term)
        if set_match:
            key = set_match["key"]
            values = tuple(v.strip() for v in set_match["values"].split(","))
            if values == ("",):
                raise _parse_error(term, "for 'in', 'notin' operators, values set can't be empty")
            _check_key(term, key)
            for value in values:
                _check_value(term, value)
            requirements.append(_LabelRequirement(key, set_match["op"], values))
            continue
        for operator in ("==", "!=", "=", ">", "<"):
            if operator in term:
                key, _, value = term.partition(operator)
                key, value = key.strip(), value.strip()
                _check_key(term, key)
                if operator in (">", "<"):
                    if not value.lstrip("-").isdigit():
                        raise _parse_error(
                            term,
                            f"for 'Gt', 'Lt' operators, the value must be "
                            f"an integer, got {value!r}",
                        )
                else:
                    _check_value(term, value)
                normalized = "=" if operator == "==" else operator
                requirements.append(_LabelRequirement(key, normalized, (value,)))
                break
        else:
            if term.startswith("!"):
                key = term[1:].strip()
                _check_key(term, key)
                requirements.append(_LabelRequirement(key, "!", ()))
            else:
                _check_key(term, term)
                requirements.append(_LabelRequirement(term, "exists", ()))
    return requirements


def _get(obj: JsonObject, *path: str) -> str:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


_FieldGetter = Callable[[JsonObject], str]


def _paths(*names: str) -> dict[str, _FieldGetter]:
    getters: dict[str, _FieldGetter] = {}
    for name in names:
        parts = tuple(name.split("."))
        getters[name] = lambda obj, parts=parts: _get(obj, *parts)  # type: ignore[misc]
    return getters


# Selectable fields per resource, as registered by the real API server for these kinds.
_FIELDS: dict[str, dict[str, _FieldGetter]] = {
    "pods": _paths(
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": {
        **_paths(
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "type",
        ),
        "source": lambda obj: _get(obj, "source", "component"),
    },
    "nodes": _paths("metadata.name", "spec.unschedulable"),
    "namespaces": _paths("metadata.name", "status.phase"),
    "leases": _paths("metadata.name", "metadata.namespace"),
}


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class FieldSelector:
    """A parsed fieldSelector for one resource; the empty selector matches everything."""

    def __init__(self, plural: str, text: str) -> None:
        self.text = text
        self.requirements: list[tuple[_FieldGetter, str, str]] = []
        getters = _FIELDS.get(plural, _paths("metadata.name", "metadata.namespace"))
        if not text.strip():
            return
        for term in _split_unescaped(text, ","):
            for operator in ("!=", "==", "="):
                index = _find_unescaped(term, operator)
                if index >= 0:
                    field = term[:index].strip()
                    value = _unescape(term[index + len(operator) :].strip())
                    break
            else:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
            getter = getters.get(field)
            if getter is None:
                raise bad_request(f"field label not supported: {field}")
            self.requirements.append((getter, "!=" if operator == "!=" else "=", value))

    def matches(self, obj: JsonObject) -> bool:
        """Return True when every field requirement holds for the object."""
        for getter, operator, value in self.requirements:
            actual = getter(obj)
            if (actual == value) != (operator == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements."""
        return not self.requirements


def _find_unescaped(term: str, operator: str) -> int:
    start = 0
    while True:
        index = term.find(operator, start)
        if index < 0:
            return -1
        backslashes = 0
        cursor = index - 1
        while cursor >= 0 and term[cursor] == "\\":
            backslashes += 1
            cursor -= 1
        if backslashes % 2 == 0:
            return index
        start = index + 1


@dataclass(frozen=True, slots=True)
class Selector:
    """A request's labelSelector and fieldSelector together."""

    labels: LabelSelector
    fields: FieldSelector

    def matches(self, obj: JsonObject) -> bool:
        """Return True when the object passes both selectors."""
        return self.labels.matches(obj) and self.fields.matches(obj)

    @property
    def empty(self) -> bool:
        """True when neither selector has requirements."""
        return self.labels.empty and self.fields.empty


def parse_selector(plural: str, label_text: str, field_text: str) -> Selector:
    """Parse both selectors of a request. Raises ApiError (400) if either is malformed."""
    return Selector(LabelSelector(label_text), FieldSelector(plural, field_text))
