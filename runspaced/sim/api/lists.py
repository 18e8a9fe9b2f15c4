"""List requests: resourceVersion semantics, selectors and limit/continue pagination.

Continue tokens have the real server's form: base64url (no padding) of
``{"v": "meta.k8s.io/v1", "rv": N, "start": "<key>\\u0000"}`` where the key is the last
returned object's ``namespace/name``. Every page of one list is served from the store's
state at resourceVersion N, so the list resourceVersion stays constant across pages; a
token older than the store's history gets 410 Expired.

resourceVersion semantics: unset means the newest state, "0" any state (served here as
the newest, with limit ignored as the real server's watch cache does), N with
resourceVersionMatch=Exact (or with a limit and no match) exactly N, otherwise not
older than N.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from ..status import ApiError, FieldError, bad_request, expired, invalid
from ..store import Expired, ObjectStore, storage_key
from .paths import Target

__all__ = ["ListQuery", "decode_continue", "encode_continue", "list_objects"]

JsonObject = dict[str, Any]

_TOKEN_VERSION = "meta.k8s.io/v1"
_INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list-related query parameters of a request."""

    resource_version: str
    resource_version_match: str
    limit: int
    continue_token: str

    @classmethod
    def from_query(cls, query: Any) -> ListQuery:
        """Parse the parameters. Raises ApiError 400 for a malformed limit."""
        raw_limit = query.get("limit", "") or "0"
        try:
            limit = int(raw_limit)
        except ValueError as error:
            raise bad_request(f'strconv.ParseInt: parsing "{raw_limit}": invalid syntax') from error
        return cls(
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
            limit=max(limit, 0),
            continue_token=query.get("continue", ""),
        )


def encode_continue(resource_version: int, last_key: str) -> str:
    """Return a continue token resuming after `last_key` at `resource_version`."""
    payload = orjson.dumps({"v": _TOKEN_VERSION, "rv": resource_version, "start": last_key + "\0"})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """Return (resourceVersion, start key) of a continue token. Raises ApiError 400."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        if data.get("v") != _TOKEN_VERSION:
            raise ValueError("version")
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        raise bad_request(
            f"continue key is not valid: incorrect encoded start resourceVersion "
            f"(version {_TOKEN_VERSION})"
        ) from error


def _parse_rv(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise bad_request(f'invalid resource version "{text}"') from error
    if value < 0:
        raise bad_request(f'invalid resource version "{text}"')
    return value


def _validate(query: ListQuery) -> None:
    errors: list[FieldError] = []
    if query.continue_token and query.resource_version not in ("", "0"):
        errors.append(
            FieldError(
                "forbidden",
                "resourceVersion",
                "specifying resource version is not allowed when using continue",
            )
        )
    if query.resource_version_match and not query.resource_version:
        errors.append(
            FieldError(
                "forbidden",
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        )
    if query.resource_version_match and query.continue_token:
        errors.append(
            FieldError(
                "forbidden",
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            )
        )
    if query.resource_version_match not in ("", "NotOlderThan", "Exact"):
        errors.append(
            FieldError(
                "not_supported",
                "resourceVersionMatch",
                'supported values: "Exact", "NotOlderThan", ""',
                query.resource_version_match,
            )
        )
    if query.resource_version_match == "Exact" and query.resource_version == "0":
        errors.append(
            FieldError(
                "forbidden",
                "resourceVersionMatch",
                'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
            )
        )
    if errors:
        raise invalid("ListOptions", "", errors, group="meta.k8s.io")


def too_large_resource_version(requested: int, current: int) -> ApiError:
    """Return the 504 error for a resourceVersion the store has not reached."""
    return ApiError(
        504,
        f"Too large resource version: {requested}, current: {current}",
        "Timeout",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def list_objects(store: ObjectStore, target: Target, query: ListQuery, selector: Any) -> JsonObject:
    """Return the list body (``kind: XList``) for a collection request.

    Raises ApiError for invalid options (422), a malformed token (400), a token or exact
    resourceVersion older than the history (410) and a resourceVersion newer than the
    store's (504).
    """
    _validate(query)
    resource = target.resource
    namespace = target.namespace if resource.namespaced else None
    start_key = ""

    # Pick the resourceVersion the whole list is served at.
    if query.continue_token:
        list_rv, start_key = decode_continue(query.continue_token)
        if list_rv == -1:
            list_rv = store.resource_version
    elif query.resource_version_match == "Exact" or (
        # The real server keeps this legacy rule: a resourceVersion with a limit and no
        # resourceVersionMatch is an exact read, which gets 410 once compacted.
        query.limit and not query.resource_version_match and query.resource_version not in ("", "0")
    ):
        list_rv = _parse_rv(query.resource_version)
    else:
        list_rv = store.resource_version
        if query.resource_version not in ("", "0"):
            requested = _parse_rv(query.resource_version)
            if requested > store.resource_version:
                raise too_large_resource_version(requested, store.resource_version)

    if list_rv > store.resource_version:
        raise too_large_resource_version(list_rv, store.resource_version)
    try:
        if list_rv == store.resource_version:
            objects = store.list(resource.plural, namespace)
        else:
            objects = store.snapshot(resource.plural, namespace, list_rv)
    except Expired as error:
        if query.continue_token:
            fresh = encode_continue(-1, start_key.rstrip("\0"))
            raise expired(_INCONSISTENT_CONTINUE, {"continue": fresh}) from error
        raise expired("The resourceVersion for the provided list is too old.") from error

    # Resume after the start key, then filter and cut the page.
    if start_key:
        objects = [
            o
            for o in objects
            if storage_key(o["metadata"].get("namespace"), o["metadata"]["name"]) >= start_key
        ]
    matching = objects if selector.empty else [o for o in objects if selector.matches(o)]
    metadata: JsonObject = {"resourceVersion": str(list_rv)}
    page = matching

    # resourceVersion "0" lists come from the real server's watch cache, which ignores
    # limit and returns every item (kube-apiserver since 1.13).
    limit = 0 if query.resource_version == "0" and not query.continue_token else query.limit
    if limit and len(matching) > limit:
        page = matching[:limit]
        last = page[-1]["metadata"]
        metadata["continue"] = encode_continue(
            list_rv, storage_key(last.get("namespace"), last["name"])
        )
        if selector.empty:
            metadata["remainingItemCount"] = len(matching) - limit
    return {
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": metadata,
        "items": page,
    }
