"""The FastAPI application of the sidecar daemon.

`create_app` wires the routers, the problem+json error handlers and three ASGI
middlewares. Outermost first: the access log (one line and one metrics sample per
request), bearer authentication (401 before the body is read), the body size limit (413).
The lifespan enters the engine, so the app owns it from startup to shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from .. import __version__
from .._engine import RunspaceEngine
from .access import AccessLogMiddleware
from .auth import PUBLIC_PATHS, BearerAuthMiddleware
from .config import DaemonConfig
from .context import DaemonContext
from .events import build_events_router
from .health import build_health_router
from .limits import BodyLimitMiddleware
from .problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, unknown_query_problem
from .runspaces import build_runspaces_router

__all__ = ["create_app"]

_DESCRIPTION = (
    "Create isolated Kubernetes pods (runspaces) from operator-defined profiles and learn "
    "the moment each is ready or why it never will be. Errors are RFC 9457 problem "
    "details (application/problem+json)."
)


def _problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    # FastAPI documents every response model with the route's media type; error
    # responses are sent as application/problem+json, so the schema documents that type.
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and content:
                    # The route's own media type (JSON, text) does not apply to errors.
                    media = next(iter(content.values()))
                    response["content"] = {PROBLEM_MEDIA_TYPE: media}
    return schema


async def _reject_unknown_query(request: Request) -> None:
    # A misspelt parameter (?wiat=30) would otherwise be ignored without a word.
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = {param.alias for param in route.dependant.query_params}
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise unknown_query_problem(unknown)


def _require_bearer(schema: dict[str, Any]) -> None:
    # Per operation, because the probes and /openapi.json stay public.
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    for path, operations in schema.get("paths", {}).items():
        if path in PUBLIC_PATHS:
            continue
        for operation in operations.values():
            operation["security"] = [{"bearer": []}]


def create_app(engine: RunspaceEngine, config: DaemonConfig) -> FastAPI:
    """Build the daemon's ASGI app around `engine` (entered by the app's lifespan)."""
    context = DaemonContext(engine, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with context.run():
            yield

    app = FastAPI(
        title="runspaced daemon",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(_reject_unknown_query)],
    )
    app.state.daemon = context
    app.include_router(build_runspaces_router(config.max_wait_seconds))
    app.include_router(build_events_router())
    app.include_router(build_health_router())
    install_problem_handlers(app)

    # add_middleware wraps the app, so the last one added runs first.
    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes)
    app.add_middleware(BearerAuthMiddleware, token=config.token)
    app.add_middleware(AccessLogMiddleware, metrics=context.metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            if config.token is not None:
                _require_bearer(schema)
            # Callers choose among the operator's profiles, so the schema lists them.
            create = schema.get("components", {}).get("schemas", {}).get("CreateRequest", {})
            if "profile" in create.get("properties", {}):
                create["properties"]["profile"]["enum"] = sorted(config.profiles)
            app.openapi_schema = _problem_media_types(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
