"""Probe and metrics routes: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` answers 200 while the process serves HTTP. ``/readyz`` answers 200 once the
engine's pod watch has synced, and 503 before that or while shutting down, so a load
balancer stops sending traffic first. ``/metrics`` renders Prometheus text.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from .context import DaemonContext
from .metrics import CONTENT_TYPE, render_family
from .models import HealthDocument
from .problems import Problem
from .responses import problem_responses
from .runspaces import daemon_context

__all__ = ["build_health_router", "render_metrics"]


def _health(context: DaemonContext) -> dict[str, Any]:
    health = context.engine.health()
    ok = health.synced and not context.shutdown.is_set()
    return {
        "status": "ok" if ok else "unavailable",
        "synced": health.synced,
        "watch_connected": health.watch_connected,
        "last_event_age_s": health.last_event_age_s,
        "restarts": health.restarts,
        "relists": health.relists,
        "last_error": health.last_error,
        "shutting_down": context.shutdown.is_set(),
    }


def render_metrics(context: DaemonContext) -> str:
    """Render all metrics: engine gauges read now, then the daemon's own counters."""
    health = context.engine.health()
    statistics = context.engine.statistics()
    by_state: dict[str, int] = statistics.get("by_state", {})
    parts = [
        render_family(
            "runspaced_runspaces",
            "gauge",
            "Runspaces known to the engine, by state.",
            (({"state": state}, count) for state, count in sorted(by_state.items())),
        ),
        render_family(
            "runspaced_engine_waiters",
            "gauge",
            "Callers waiting in the engine for a runspace outcome.",
            [({}, statistics.get("waiters", 0))],
        ),
        render_family(
            "runspaced_watch_synced",
            "gauge",
            "1 once the pod watch completed its first list.",
            [({}, 1 if health.synced else 0)],
        ),
        render_family(
            "runspaced_watch_connected",
            "gauge",
            "1 while the pod watch stream is open.",
            [({}, 1 if health.watch_connected else 0)],
        ),
        render_family(
            "runspaced_watch_restarts_total",
            "counter",
            "Times the pod watch stream was restarted.",
            [({}, health.restarts)],
        ),
        render_family(
            "runspaced_watch_relists_total",
            "counter",
            "Times the pod watch had to list again (resourceVersion expired).",
            [({}, health.relists)],
        ),
        render_family(
            "runspaced_watch_last_event_age_seconds",
            "gauge",
            "Seconds since the pod watch last received anything (NaN before the first).",
            [({}, float("nan") if health.last_event_age_s is None else health.last_event_age_s)],
        ),
        render_family(
            "runspaced_sse_subscribers",
            "gauge",
            "Open Server-Sent Events streams.",
            [({}, context.hub.subscribers)],
        ),
        render_family(
            "runspaced_sse_events_total",
            "counter",
            "Events recorded in the Server-Sent Events buffer.",
            [({}, context.hub.published)],
        ),
        render_family(
            "runspaced_ttl_scheduled",
            "gauge",
            "Expiries waiting in the TTL reaper (including ones already deleted by hand).",
            [({}, len(context.reaper))],
        ),
        context.metrics.render(),
    ]
    return "".join(parts)


def build_health_router() -> APIRouter:
    """Build the probe and metrics routes."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=HealthDocument, summary="Liveness probe")
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(_health(daemon_context(request)))

    @router.get(
        "/readyz",
        response_model=HealthDocument,
        summary="Readiness probe",
        responses=problem_responses(503),
    )
    async def readyz(request: Request) -> JSONResponse:
        document = _health(daemon_context(request))
        if document["status"] != "ok":
            detail = (
                "the daemon is shutting down"
                if document["shutting_down"]
                else "the pod watch has not synced yet"
            )
            raise Problem(
                503,
                "not-ready",
                "Service unavailable",
                detail,
                headers={"Retry-After": "1"},
                extra={"health": document},
            )
        return JSONResponse(document)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus metrics",
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Metrics",
            },
            **problem_responses(401),
        },
    )
    async def metrics(request: Request) -> PlainTextResponse:
        return PlainTextResponse(render_metrics(daemon_context(request)), media_type=CONTENT_TYPE)

    return router
