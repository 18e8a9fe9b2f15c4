"""Server-Sent Events routes: ``GET /v1/events`` and ``GET /v1/runspaces/{id}/events``.

Both accept the standard ``Last-Event-ID`` header (browsers' EventSource sends it when it
reconnects) or a ``last_event_id`` query parameter, and replay buffered events after that
id. The per-runspace stream starts with a ``snapshot`` event (unless it resumes) and ends
after the runspace's ``deleted`` state event.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from .problems import Problem
from .responses import problem_responses
from .runspaces import RunspaceId, daemon_context, require_synced

__all__ = ["build_events_router"]

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A text/event-stream of runspace changes",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}

LastEventHeader = Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)]
LastEventQuery = Annotated[
    str | None, Query(max_length=64, description="Resume after this event id (like Last-Event-ID).")
]


def build_events_router() -> APIRouter:
    """Build the two SSE routes."""
    router = APIRouter(prefix="/v1", tags=["events"])

    @router.get(
        "/events",
        summary="Stream every runspace change (Server-Sent Events)",
        response_class=StreamingResponse,
        responses={**_SSE_RESPONSE, **problem_responses(400, 401)},
    )
    async def all_events(
        request: Request,
        last_event_id_header: LastEventHeader = None,
        last_event_id: LastEventQuery = None,
    ) -> StreamingResponse:
        context = daemon_context(request)
        stream = context.hub.stream(
            last_event_id=last_event_id_header or last_event_id,
            stop=context.shutdown,
        )
        return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)

    @router.get(
        "/runspaces/{runspace_id}/events",
        summary="Stream one runspace's changes (Server-Sent Events)",
        response_class=StreamingResponse,
        responses={**_SSE_RESPONSE, **problem_responses(400, 401, 404, 503)},
    )
    async def runspace_events(
        request: Request,
        runspace_id: RunspaceId,
        last_event_id_header: LastEventHeader = None,
        last_event_id: LastEventQuery = None,
    ) -> StreamingResponse:
        context = daemon_context(request)
        require_synced(context)
        info = context.engine.get(runspace_id)
        if info is None:
            raise Problem(
                404,
                "runspace-not-found",
                "Runspace not found",
                f"no runspace with id {runspace_id!r} is known to the daemon",
                runspace_id=runspace_id,
            )
        resume = last_event_id_header or last_event_id
        stream = context.hub.stream(
            last_event_id=resume,
            runspace_id=runspace_id,
            first=None if resume else context.hub.snapshot(info),
            stop=context.shutdown,
        )
        return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)

    return router
