"""Kubernetes Status bodies and the `ApiError` the handlers raise to send one.

Messages and reasons follow the real API server (k8s.io/apimachinery/pkg/api/errors), so
clients that branch on ``reason`` or parse ``message`` see what a cluster sends.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ApiError",
    "FieldError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "invalid",
    "method_not_supported",
    "not_found",
    "status_body",
    "too_many_requests",
    "unauthorized",
]

_REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(
    code: int,
    message: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a failure Status object (kind Status, apiVersion v1)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason if reason is not None else _REASON_BY_CODE.get(code, ""),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """A request failed; the server answers with `code` and this Status body."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body = status_body(code, message, reason, details, metadata)
        self.headers = headers or {}


class FieldError:
    """One validation failure on a field, rendered the way field.Error prints itself."""

    # field.ErrorType -> (Status cause reason, message prefix)
    _TYPES: ClassVar[dict[str, tuple[str, str]]] = {
        "required": ("FieldValueRequired", "Required value"),
        "invalid": ("FieldValueInvalid", "Invalid value"),
        "duplicate": ("FieldValueDuplicate", "Duplicate value"),
        "not_supported": ("FieldValueNotSupported", "Unsupported value"),
        "forbidden": ("FieldValueForbidden", "Forbidden"),
        "too_long": ("FieldValueTooLong", "Too long"),
    }

    def __init__(
        self,
        error_type: str,
        field: str,
        detail: str = "",
        value: Any = None,
        *,
        show_value: bool = True,
    ) -> None:
        self.reason, prefix = self._TYPES[error_type]
        self.field = field
        if error_type in ("required", "forbidden") or not show_value:
            text = prefix
        elif isinstance(value, str):
            text = f'{prefix}: "{value}"'
        else:
            text = f"{prefix}: {value}"
        self.message = f"{text}: {detail}" if detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> ApiError:
    """Return the 422 Invalid error for a rejected object."""
    qualified = f"{kind}.{group}" if group else kind
    rendered = [str(e) for e in errors]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": e.reason, "message": e.message, "field": e.field} for e in errors],
    }
    if group:
        details["group"] = group
    return ApiError(422, f'{qualified} "{name}" is invalid: {summary}', "Invalid", details)


def _details(name: str, plural: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    """Return the 404 NotFound error, e.g. ``pods "x" not found``."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        404, f'{qualified} "{name}" not found', "NotFound", _details(name, plural, group)
    )


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    """Return the 409 AlreadyExists error, e.g. ``pods "x" already exists``."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409, f'{qualified} "{name}" already exists', "AlreadyExists", _details(name, plural, group)
    )


def conflict(plural: str, name: str, detail: str, group: str = "") -> ApiError:
    """Return the 409 Conflict error for a failed optimistic-concurrency precondition."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": {detail}',
        "Conflict",
        _details(name, plural, group),
    )


def expired(message: str, metadata: dict[str, Any] | None = None) -> ApiError:
    """Return the 410 Expired error (resourceVersion or continue token too old)."""
    return ApiError(410, message, "Expired", metadata=metadata)


def bad_request(message: str) -> ApiError:
    """Return a 400 BadRequest error."""
    return ApiError(400, message, "BadRequest")


def forbidden(message: str) -> ApiError:
    """Return a 403 Forbidden error."""
    return ApiError(403, message, "Forbidden")


def unauthorized() -> ApiError:
    """Return the 401 error for a missing or wrong bearer token."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_supported(plural: str, verb: str, group: str = "") -> ApiError:
    """Return the 405 error for a verb the resource does not serve."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        405,
        f'{verb} is not supported on resources of kind "{qualified}"',
        "MethodNotAllowed",
        {"kind": plural, **({"group": group} if group else {})},
    )


def too_many_requests(retry_after: int) -> ApiError:
    """Return the 429 error with a Retry-After header, as API Priority and Fairness sends."""
    return ApiError(
        429,
        "Too many requests, please try again later.",
        "TooManyRequests",
        {"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )
