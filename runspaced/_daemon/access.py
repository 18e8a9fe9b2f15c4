"""One log line and one metrics sample per HTTP request, as ASGI middleware.

The line (event ``request.completed``) has the method, the path without query string,
the route template, the status, the duration and the runspace id when there is one. It
never carries headers, query strings or bodies, so tokens and env values stay out of the
log. An exception that escapes a route is logged here once, with its traceback, and
answered with a 500 problem if the response has not started.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import DaemonMetrics
from .problems import Problem, problem_response

__all__ = ["AccessLogMiddleware", "set_runspace_id"]

log = structlog.get_logger("runspaced.daemon")

_STATE_KEY = "runspace_id"


def set_runspace_id(scope: Scope, runspace_id: str) -> None:
    """Record the runspace a request is about, for its log line (routes without it in the path)."""
    scope.setdefault("state", {})[_STATE_KEY] = runspace_id


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # FastAPI serves /openapi.json without recording a route in the scope.
    return "/openapi.json" if scope["path"] == "/openapi.json" else "unmatched"


class AccessLogMiddleware:
    """Log and count every HTTP request; turn escaped exceptions into a 500 problem."""

    def __init__(self, app: ASGIApp, metrics: DaemonMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 0

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except Exception as exc:
            log.error(
                "request.failed",
                method=scope["method"],
                path=scope["path"],
                error=repr(exc),
                exc_info=exc,
            )
            if status == 0:
                problem = Problem(
                    500,
                    "internal-error",
                    "Internal server error",
                    "the daemon failed to handle the request; its log has the details",
                )
                await problem_response(problem, scope["path"])(scope, receive, send_and_record)
            else:
                raise
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = _route_template(scope)
        self.metrics.observe_request(scope["method"], route, status, seconds)

        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        }
        path_params = scope.get("path_params") or {}
        runspace_id = path_params.get("runspace_id") or (scope.get("state") or {}).get(_STATE_KEY)
        if runspace_id:
            fields["runspace_id"] = runspace_id
        log.info("request.completed", **fields)
