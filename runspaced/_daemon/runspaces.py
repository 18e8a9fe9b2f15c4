"""Routes under ``/v1/runspaces``: create, list, get, wait (long poll) and delete.

Status codes of a wait (``POST ?wait=`` and ``GET .../wait``):

- READY: 201 (create) or 200 (wait), with the runspace document.
- Still creating when the wait ends (or the daemon is shutting down): 202, same document.
- ERROR, TIMEOUT, TERMINATING or DELETED: 409 problem whose ``runspace`` member is the
  document, with type ``runspace-failed``, ``runspace-timeout`` or ``runspace-deleted``.
"""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from .._errors import (
    EngineClosed,
    RunspaceApiError,
    RunspaceError,
    RunspaceNotFound,
    RunspaceTimeout,
)
from .._types import RunspaceInfo, RunspaceState
from .access import set_runspace_id
from .context import DaemonContext
from .models import (
    RUNSPACE_ID_PATTERN,
    CreateRequest,
    RunspaceDocument,
    RunspaceList,
    StateName,
    runspace_document,
)
from .problems import Problem
from .profiles import PolicyError, resolve_request
from .responses import problem_responses

__all__ = ["build_runspaces_router", "daemon_context", "require_synced"]

# States that count against max_runspaces: their pods exist or are about to.
_LIVE_STATES = (RunspaceState.CREATING, RunspaceState.READY, RunspaceState.TERMINATING)

RunspaceId = Annotated[
    str,
    Path(
        pattern=RUNSPACE_ID_PATTERN, max_length=63, description="Runspace id (also the pod name)."
    ),
]


def daemon_context(request: Request) -> DaemonContext:
    """Return the DaemonContext of the app serving `request`."""
    context: DaemonContext = request.app.state.daemon
    return context


def require_synced(context: DaemonContext) -> None:
    """Raise a 503 problem while the engine has not listed the pods yet."""
    if not context.engine.health().synced:
        raise Problem(
            503,
            "not-synced",
            "Service unavailable",
            "the daemon has not finished listing the cluster's pods; retry shortly",
            headers={"Retry-After": "1"},
        )


def _not_found(runspace_id: str) -> Problem:
    return Problem(
        404,
        "runspace-not-found",
        "Runspace not found",
        f"no runspace with id {runspace_id!r} is known to the daemon",
        runspace_id=runspace_id,
    )


def _location(info: RunspaceInfo) -> dict[str, str]:
    return {"Location": f"/v1/runspaces/{info.id}"}


def _outcome_problem(error: RunspaceError) -> Problem:
    """Map a failed wait to a 409 problem carrying the runspace document."""
    info = error.info
    state = info.state if info is not None else None
    if isinstance(error, RunspaceTimeout):
        slug, title = "runspace-timeout", "Runspace timed out"
    elif state in (RunspaceState.TERMINATING, RunspaceState.DELETED):
        slug, title = "runspace-deleted", "Runspace deleted"
    else:
        slug, title = "runspace-failed", "Runspace failed"
    extra: dict[str, Any] = {"reason": error.reason}
    if info is not None:
        extra["state"] = info.state.value
        extra["runspace"] = runspace_document(info)
    return Problem(409, slug, title, str(error), runspace_id=error.runspace_id, extra=extra)


async def _wait_for_outcome(
    context: DaemonContext, runspace_id: str, timeout: float
) -> tuple[RunspaceInfo, bool]:
    """Wait up to `timeout` seconds; return (snapshot, decided).

    `decided` is False when the runspace is still creating: the wait ran out or the
    daemon began shutting down. Raises a 409 Problem for error, timeout or deletion, and
    a 404 Problem when the id is unknown.
    """
    engine = context.engine
    context.metrics.active_waits += 1
    waiter: asyncio.Task[RunspaceInfo] = asyncio.ensure_future(
        engine.wait(runspace_id, timeout=timeout)
    )
    stopper = asyncio.ensure_future(context.shutdown.wait())
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            waiter.cancel()
            info = engine.get(runspace_id)
            if info is None:
                raise _not_found(runspace_id)
            return info, False
        return waiter.result(), True
    except RunspaceNotFound:
        raise _not_found(runspace_id) from None
    except RunspaceTimeout as exc:
        if exc.reason == "WaitTimeout" and exc.info is not None:
            return exc.info, False
        raise _outcome_problem(exc) from None
    except EngineClosed:
        info = engine.get(runspace_id)
        if info is None:
            raise _not_found(runspace_id) from None
        return info, False
    except RunspaceError as exc:
        raise _outcome_problem(exc) from None
    finally:
        stopper.cancel()
        if not waiter.done():
            waiter.cancel()
        context.metrics.active_waits -= 1


def _parse_label_filters(values: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values or []:
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise Problem(
                400,
                "invalid-request",
                "Invalid request",
                f"invalid field 'label': expected KEY=VALUE, got {value!r}",
                extra={"errors": [{"field": "label", "message": "expected KEY=VALUE"}]},
            )
        labels[key] = wanted
    return labels


async def _create(context: DaemonContext, body: CreateRequest) -> RunspaceInfo:
    config = context.config
    try:
        resolved = resolve_request(
            config.profiles,
            body.profile,
            image=body.image,
            env=body.env,
            labels=body.labels,
            port=body.port,
            resources=body.resources.model_dump() if body.resources else None,
            ttl_seconds=body.ttl_seconds,
            image_allowlist=config.image_allowlist,
            max_ttl_seconds=config.max_ttl_seconds,
        )
    except PolicyError as exc:
        status, slug, title = (
            (422, "not-allowed", "Request not allowed")
            if exc.forbidden
            else (400, "invalid-request", "Invalid request")
        )
        raise Problem(
            status,
            slug,
            title,
            f"invalid field {exc.field!r}: {exc.message}",
            extra={"errors": [{"field": exc.field, "message": exc.message}]},
        ) from None

    # Check and reserve a slot with no await in between, so concurrent requests cannot
    # both take the last one.
    live = sum(1 for info in context.engine.list() if info.state in _LIVE_STATES)
    if live + context.pending_creates >= config.max_runspaces:
        context.metrics.rejected_over_limit += 1
        raise Problem(
            429,
            "too-many-runspaces",
            "Too many runspaces",
            f"the daemon already runs {live} runspaces (limit {config.max_runspaces}); "
            "delete one or retry later",
            headers={"Retry-After": str(config.retry_after_seconds)},
        )
    context.pending_creates += 1
    try:
        # NOTE: the engine retries transient API errors for up to create_retry_timeout
        # (60 s by default) before it raises, and this request waits that long.
        info = await context.engine.create(resolved.spec)
    except ValueError as exc:
        raise Problem(422, "invalid-spec", "Invalid runspace spec", str(exc)) from None
    except RunspaceApiError as exc:
        raise _api_problem(exc) from None
    finally:
        context.pending_creates -= 1

    if resolved.expires_at is not None:
        context.reaper.schedule(info.id, resolved.expires_at)
    return info


def _api_problem(error: RunspaceApiError) -> Problem:
    """Map an API server rejection to a problem; only 4xx rejections blame the caller."""
    detail = f"the Kubernetes API server rejected the pod: {error.reason}: {error.message}"
    if error.status in (400, 422):
        return Problem(
            422,
            "rejected-by-cluster",
            "Rejected by the cluster",
            detail,
            runspace_id=error.runspace_id,
        )
    if error.status == 409:
        return Problem(409, "conflict", "Conflict", detail, runspace_id=error.runspace_id)
    return Problem(
        502,
        "cluster-unavailable",
        "Cluster request failed",
        f"the Kubernetes API request failed (HTTP {error.status}): {error.reason}: {error.message}",
        runspace_id=error.runspace_id,
    )


def build_runspaces_router(max_wait_seconds: float) -> APIRouter:
    """Build the ``/v1/runspaces`` routes; waits are capped at `max_wait_seconds`."""
    router = APIRouter(prefix="/v1/runspaces", tags=["runspaces"])

    @router.post(
        "",
        status_code=202,
        response_model=RunspaceDocument,
        summary="Create a runspace",
        responses={
            201: {"model": RunspaceDocument, "description": "Ready within ?wait"},
            **problem_responses(400, 401, 409, 413, 422, 429, 502, 503),
        },
    )
    async def create_runspace(
        request: Request,
        body: CreateRequest,
        wait: Annotated[
            float | None,
            Query(ge=0, le=max_wait_seconds, description="Seconds to wait for an outcome."),
        ] = None,
    ) -> JSONResponse:
        context = daemon_context(request)
        require_synced(context)
        if context.shutdown.is_set():
            raise Problem(
                503,
                "shutting-down",
                "Service unavailable",
                "the daemon is shutting down",
                headers={"Retry-After": "1"},
            )

        info = await _create(context, body)
        set_runspace_id(request.scope, info.id)
        if not wait:
            return JSONResponse(runspace_document(info), status_code=202, headers=_location(info))

        info, decided = await _wait_for_outcome(context, info.id, wait)
        status = 201 if decided else 202
        return JSONResponse(runspace_document(info), status_code=status, headers=_location(info))

    @router.get(
        "",
        response_model=RunspaceList,
        summary="List runspaces",
        responses=problem_responses(400, 401, 503),
    )
    async def list_runspaces(
        request: Request,
        state: Annotated[
            list[StateName] | None, Query(description="Keep only these states.")
        ] = None,
        label: Annotated[
            list[str] | None,
            Query(description="KEY=VALUE label filter; repeat to require several."),
        ] = None,
    ) -> JSONResponse:
        context = daemon_context(request)
        require_synced(context)
        labels = _parse_label_filters(label)
        wanted = set(state or ())
        items = [
            runspace_document(info)
            for info in context.engine.list(labels=labels or None)
            if not wanted or info.state.value in wanted
        ]
        return JSONResponse({"items": items, "count": len(items)})

    @router.get(
        "/{runspace_id}",
        response_model=RunspaceDocument,
        summary="Get one runspace",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_runspace(request: Request, runspace_id: RunspaceId) -> JSONResponse:
        context = daemon_context(request)
        require_synced(context)
        info = context.engine.get(runspace_id)
        if info is None:
            raise _not_found(runspace_id)
        return JSONResponse(runspace_document(info))

    @router.get(
        "/{runspace_id}/wait",
        response_model=RunspaceDocument,
        summary="Wait until a runspace is ready or failed (long poll)",
        responses={
            202: {"model": RunspaceDocument, "description": "Still creating when the wait ended"},
            **problem_responses(400, 401, 404, 409, 503),
        },
    )
    async def wait_runspace(
        request: Request,
        runspace_id: RunspaceId,
        timeout: Annotated[
            float, Query(ge=0, le=max_wait_seconds, description="Seconds to wait at most.")
        ] = min(30.0, max_wait_seconds),
    ) -> JSONResponse:
        context = daemon_context(request)
        require_synced(context)
        info, decided = await _wait_for_outcome(context, runspace_id, timeout)
        return JSONResponse(runspace_document(info), status_code=200 if decided else 202)

    @router.delete(
        "/{runspace_id}",
        response_model=RunspaceDocument,
        status_code=202,
        summary="Delete a runspace (idempotent)",
        responses={
            200: {"model": RunspaceDocument, "description": "Already deleted"},
            **problem_responses(400, 401, 404, 503),
        },
    )
    async def delete_runspace(request: Request, runspace_id: RunspaceId) -> JSONResponse:
        context = daemon_context(request)
        require_synced(context)
        try:
            info = await context.engine.delete(runspace_id)
        except EngineClosed:
            raise Problem(
                503,
                "shutting-down",
                "Service unavailable",
                "the daemon is shutting down",
                headers={"Retry-After": "1"},
            ) from None
        if info is None:
            raise _not_found(runspace_id)
        status = 200 if info.state is RunspaceState.DELETED else 202
        return JSONResponse(runspace_document(info), status_code=status)

    return router
