"""Error responses as RFC 9457 problem details (``application/problem+json``).

Every error the daemon returns goes through here. Routes raise `Problem`. Starlette's HTTP
errors (unknown route, wrong method) and FastAPI's request validation errors (400, with
the invalid fields listed) are converted. An exception that escapes a route becomes a
500 problem in `runspaced._daemon.access`. Problem ``type`` values are URNs of the form
``urn:runspaced:problem:<slug>``; docs/daemon.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "install_problem_handlers",
    "problem_response",
    "unknown_query_problem",
    "validation_problem",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

# pydantic error types for a body that is valid input but not a JSON object.
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})
_TYPE_PREFIX = "urn:runspaced:problem:"

# Slug and title for the HTTP errors Starlette raises itself.
_HTTP_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Authentication required"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


class Problem(Exception):
    """An error response the daemon sends on purpose.

    `slug` becomes the problem ``type`` URN. `extra` adds members such as ``errors`` or
    ``runspace``. `headers` are sent along (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        runspace_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.runspace_id = runspace_id
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def document(self, instance: str | None = None) -> dict[str, Any]:
        """Return the problem as a JSON-ready mapping; `instance` is the request path."""
        body: dict[str, Any] = {
            "type": _TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        if self.runspace_id is not None:
            body["runspace_id"] = self.runspace_id
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """Render `problem` as a problem+json response with its status and headers."""
    return JSONResponse(
        problem.document(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_name(location: Sequence[Any]) -> str:
    # FastAPI prefixes the location with where the value came from: body, query, path.
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> Problem:
    """Map FastAPI/pydantic validation errors to one 400 problem naming each invalid field.

    Only the field location and pydantic's message are used, never the input value, so
    env values and other caller data do not reach the response or the logs.
    """
    listed: list[dict[str, str]] = []
    for error in errors:
        location = error.get("loc", ())
        if error.get("type") == "json_invalid":
            listed.append({"field": "body", "message": "the request body is not valid JSON"})
            continue
        if error.get("type") == "missing" and tuple(location) == ("body",):
            listed.append({"field": "body", "message": "a JSON request body is required"})
            continue
        if tuple(location) == ("body",) and error.get("type") in _NOT_AN_OBJECT:
            # A form-encoded or non-object body: name the expected body and content type
            # in place of pydantic's internal wording.
            listed.append(
                {
                    "field": "body",
                    "message": "the request body must be a JSON object sent with "
                    "Content-Type: application/json",
                }
            )
            continue
        listed.append({"field": _field_name(location), "message": str(error.get("msg", "invalid"))})

    if not listed:
        listed.append({"field": "body", "message": "invalid request"})
    first = listed[0]
    detail = f"invalid field {first['field']!r}: {first['message']}"
    if len(listed) > 1:
        detail += f" (and {len(listed) - 1} more)"
    return Problem(400, "invalid-request", "Invalid request", detail, extra={"errors": listed})


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(exc.errors()), request.url.path)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_DEFAULTS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404:
        detail = f"no route matches {request.method} {request.url.path}"
    problem = Problem(exc.status_code, slug, title, detail, headers=exc.headers)
    return problem_response(problem, request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


def unknown_query_problem(names: Sequence[str]) -> Problem:
    """Return the 400 problem for query parameters that the route does not define."""
    listed = [{"field": name, "message": "unknown query parameter"} for name in names]
    detail = f"invalid field {names[0]!r}: unknown query parameter"
    return Problem(400, "invalid-request", "Invalid request", detail, extra={"errors": listed})
