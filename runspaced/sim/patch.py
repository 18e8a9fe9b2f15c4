"""PATCH bodies: JSON merge patch, strategic merge patch and JSON patch.

The strategic merge patch uses the merge keys of the pod fields clients patch in
practice (conditions by type, container statuses and containers by name, and so on);
lists without a known merge key are replaced, as a JSON merge patch would. The
``$patch: replace|delete`` directive in maps and ``$setElementOrder`` lists are honoured;
``$retainKeys`` and ``$deleteFromPrimitiveList`` are ignored.
"""

from __future__ import annotations

import copy
from typing import Any

from .status import ApiError, bad_request

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "apply_patch",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Field name -> merge key of its list items, from the core/v1 and meta/v1 type tags.
_MERGE_KEYS = {
    "conditions": "type",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "ephemeralContainerStatuses": "name",
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "podIPs": "ip",
    "hostIPs": "ip",
    "addresses": "type",
    "resourceClaims": "name",
}
# Lists of scalars the strategic merge patch unions instead of replacing.
_MERGED_SCALAR_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch and return the result (inputs unchanged)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """Apply a strategic merge patch and return the result (inputs unchanged)."""
    if isinstance(patch, list):
        return _merge_list(target, patch, field)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if key.startswith("$setElementOrder/"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = strategic_merge_patch(result.get(key), value, key)
        if merged is None and isinstance(value, dict) and value.get("$patch") == "delete":
            result.pop(key, None)
        else:
            result[key] = merged
    return result


def _merge_list(target: Any, patch: list[Any], field: str) -> list[Any]:
    current = list(copy.deepcopy(target)) if isinstance(target, list) else []
    merge_key = _MERGE_KEYS.get(field)
    if field in _MERGED_SCALAR_LISTS:
        for item in patch:
            if item not in current:
                current.append(copy.deepcopy(item))
        return current
    if merge_key is None or not all(isinstance(i, dict) for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    for item in patch:
        if item.get("$patch") == "replace":
            return [copy.deepcopy({k: v for k, v in i.items() if k != "$patch"}) for i in patch]
        key_value = item.get(merge_key)
        index = next(
            (n for n, existing in enumerate(current) if existing.get(merge_key) == key_value),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                current.pop(index)
            continue
        if index is None:
            current.append(strategic_merge_patch({}, item))
        else:
            current[index] = strategic_merge_patch(current[index], item)
    return current


def _pointer_parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request(f"invalid JSON pointer {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _resolve(document: Any, parts: list[str]) -> tuple[Any, str]:
    node = document
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node[part]
        else:
            raise KeyError(part)
    return node, parts[-1]


def json_patch(document: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch and return the result (input unchanged)."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        op = operation.get("op")
        try:
            parts = _pointer_parts(operation.get("path", ""))
            if op == "test":
                node, last = _resolve(result, parts)
                actual = node[int(last)] if isinstance(node, list) else node[last]
                if actual != operation.get("value"):
                    raise ApiError(422, f"testing value {operation.get('path')} failed", "Invalid")
                continue
            if op in ("move", "copy"):
                source_node, source_last = _resolve(result, _pointer_parts(operation["from"]))
                if isinstance(source_node, list):
                    value = source_node[int(source_last)]
                    if op == "move":
                        source_node.pop(int(source_last))
                else:
                    value = source_node[source_last]
                    if op == "move":
                        del source_node[source_last]
                op, operation = "add", {"path": operation["path"], "value": copy.deepcopy(value)}
            node, last = _resolve(result, parts)
            if op == "add":
                if isinstance(node, list):
                    position = len(node) if last == "-" else int(last)
                    node.insert(position, copy.deepcopy(operation["value"]))
                else:
                    node[last] = copy.deepcopy(operation["value"])
            elif op == "replace":
                if isinstance(node, list):
                    node[int(last)] = copy.deepcopy(operation["value"])
                else:
                    if last not in node:
                        raise KeyError(last)
                    node[last] = copy.deepcopy(operation["value"])
            elif op == "remove":
                if isinstance(node, list):
                    node.pop(int(last))
                else:
                    del node[last]
            else:
                raise bad_request(f"unexpected JSON patch operation {op!r}")
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise ApiError(
                422,
                f"the server rejected our request due to an error in our request: {op} operation "
                f"does not apply: doc is missing path: {operation.get('path')!r}",
                "Invalid",
            ) from error
    return result


def apply_patch(content_type: str, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a PATCH body of the given media type to a copy of `current`.

    Raises ApiError 415 for an unsupported media type (including server-side apply) and
    400/422 for a malformed patch.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        result = merge_patch(current, patch)
    elif media_type == STRATEGIC_MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        result = strategic_merge_patch(current, patch)
    elif media_type == JSON_PATCH:
        result = json_patch(current, patch)
    else:
        # NOTE: server-side apply (application/apply-patch+yaml) is not simulated.
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}",
            "UnsupportedMediaType",
        )
    if not isinstance(result, dict):
        raise bad_request("the patch did not produce an object")
    return result
