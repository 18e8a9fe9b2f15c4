"""The simulated API server: aiohttp application, authentication, dispatch, lifecycle.

Every request except the health and version endpoints needs the bearer token
(401 Status otherwise). Middleware then applies fault injection (latency, armed
failures) and counts the request by verb and resource before a handler runs.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import structlog
from aiohttp import web
from multidict import CIMultiDict

from . import admin
from .api import table
from .api.lists import ListQuery, list_objects
from .api.objects import ObjectHandlers
from .api.paths import Target, parse_target, request_verb
from .api.watch import WatchOptions, serve_watch
from .counters import RequestCounters
from .faults import DROPPED, Faults
from .openapi import OPENAPI_V3_ROOT, FieldValidation, serve_openapi
from .openapi.document import catalog
from .resources import api_group_list, api_resource_list, api_versions
from .selectors import parse_selector
from .status import ApiError, bad_request, method_not_supported, unauthorized
from .store import ObjectStore

__all__ = ["ApiServer"]

log = structlog.get_logger("runspaced.sim.server")

JsonObject = dict[str, Any]
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Served without a token, as the real server's system:public-info-viewer role allows.
_PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
# The options type whose fieldValidation a write verb reads, named in its 422 errors.
_OPTIONS_KINDS = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-runspaced-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """Return a JSON response encoded with orjson. A multidict `headers` may repeat names."""
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=CIMultiDict(headers or {}),
    )


def warning_headers(warnings: list[str]) -> CIMultiDict[str]:
    """Return one ``Warning: 299 - "text"`` header per warning, as the real server sends.

    Quotes and backslashes in the text are escaped with a backslash.
    """
    headers: CIMultiDict[str] = CIMultiDict()
    for text in warnings:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{escaped}"')
    return headers


def error_response(error: ApiError) -> web.Response:
    """Return the Status response for an ApiError."""
    return json_response(error.code, error.body, error.headers)


class ApiServer:
    """The HTTP side of the simulated cluster, bound to one host and port.

    `timeline` returns the node half's timeline for the admin route; `evict` delegates to
    the node half. Both are callables so this module does not import the node half.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        watch_options: WatchOptions | None = None,
        evict: Callable[[str, str, str | None], bool] | None = None,
        timeline: Callable[[], Mapping[tuple[str, str], Mapping[str, float]]] | None = None,
    ) -> None:
        self.store = store
        self.token = token
        self.host = host
        self.port = port
        self._ssl_context = ssl_context
        self.watch_options = watch_options or WatchOptions()
        self.requests = RequestCounters()
        self.faults = Faults(store, evict=evict or (lambda ns, n, m: False), restart=self.restart)
        self._timeline = timeline or (lambda: {})
        self._objects = ObjectHandlers(store)
        self._runner: web.AppRunner | None = None
        self._restart_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    def set_ssl_context(self, context: ssl.SSLContext | None) -> None:
        """Serve https with `context` from the next start on (None: plain http)."""
        self._ssl_context = context

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. ``http://127.0.0.1:43121``."""
        scheme = "https" if self._ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def timeline(self) -> Mapping[tuple[str, str], Mapping[str, float]]:
        """Return the node half's per-pod timeline."""
        return self._timeline()

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors_middleware, self._auth_middleware],
            client_max_size=8 * 1024 * 1024,
        )
        admin.add_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self) -> None:
        """Bind the listening socket and serve; `port` 0 picks a free port."""
        # Read the schemas before serving, so that no request waits for the import of
        # kubernetes-asyncio's models (0.46 s on a 2-vCPU VM). Later starts reuse them.
        catalog()

        # Handler cancellation ends a watch as soon as its client disconnects, as the real
        # server's request context does, instead of at the next write.
        runner = web.AppRunner(
            self._build_app(), access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(
            runner, self.host, self.port, ssl_context=self._ssl_context, reuse_address=True
        )
        await site.start()
        self._runner = runner
        sockets = [s for s in (runner.addresses or [])]
        if self.port == 0 and sockets:
            self.port = int(sockets[0][1])
        log.info("sim.server.started", url=self.url)

    async def stop(self, *, abrupt: bool = False) -> None:
        """Close every connection and the listening socket.

        Watch streams end with their final chunk, or are cut without it when `abrupt`.
        """
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.store.close_subscriptions(DROPPED if abrupt else "server stopped")
        await runner.cleanup()
        log.info("sim.server.stopped", url=self.url)

    async def restart(self) -> None:
        """Cut every connection, then listen on the same port again; state is kept.

        Watch streams are cut without their final chunk, as when a server process dies.
        """
        async with self._restart_lock:
            await self.stop(abrupt=True)
            await self.start()
        log.info("sim.server.restarted", url=self.url)

    # -- middleware ----------------------------------------------------------------------

    @web.middleware
    async def _errors_middleware(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as error:
            log.exception("sim.request.failed", method=request.method, path=request.path)
            return error_response(ApiError(500, f"Internal error occurred: {error}"))

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path not in _PUBLIC_PATHS:
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            valid = scheme.lower() == "bearer" and secrets.compare_digest(
                presented.strip().encode(), self.token.encode()
            )
            if not valid:
                raise unauthorized()
        return await handler(request)

    # -- dispatch ------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if path == OPENAPI_V3_ROOT or path.startswith(OPENAPI_V3_ROOT + "/"):
            return serve_openapi(request, path)

        discovery = self._discovery(path)
        if discovery is not None:
            failure = self.faults.take_failure(request.method, path)
            if failure is not None:
                raise failure
            if request.method != "GET":
                raise ApiError(405, "the server does not allow this method", "MethodNotAllowed")
            return json_response(200, discovery)

        target = parse_target(path)
        if target is None:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        watch = request.query.get("watch") in ("true", "1", "True")
        verb = request_verb(request.method, target, watch)
        self.requests.record(verb, target.counter_resource)
        failure = self.faults.take_failure(request.method, path)
        if failure is not None:
            log.info("sim.request.failed_by_fault", verb=verb, path=path, code=failure.code)
            if verb == "watch" and failure.code == 410:
                # A real server reports an expired watch as an ERROR event on a 200 stream.
                return await self._watch_error(request, failure)
            raise failure
        if verb not in target.resource.verbs and not (
            target.subresource and verb in ("get", "update", "patch")
        ):
            raise method_not_supported(target.resource.plural, verb, target.resource.group)
        return await self._serve(request, target, verb)

    async def _watch_error(self, request: web.Request, error: ApiError) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(orjson.dumps({"type": "ERROR", "object": error.body}) + b"\n")
        await response.write_eof()
        return response

    def _discovery(self, path: str) -> JsonObject | None:
        if path == "/version":
            return SERVER_VERSION
        if path == "/api":
            return api_versions(f"{self.host}:{self.port}")
        if path == "/apis":
            return api_group_list()
        parts = [p for p in path.split("/") if p]
        if parts == ["api", "v1"]:
            return api_resource_list("", "v1")
        if len(parts) == 3 and parts[0] == "apis":
            return api_resource_list(parts[1], parts[2])
        return None

    async def _read_json(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise bad_request(f"the request body is not valid JSON: {error}") from error

    async def _serve(self, request: web.Request, target: Target, verb: str) -> web.StreamResponse:
        query = request.query
        if verb in ("list", "watch", "deletecollection"):
            field_text = query.get("fieldSelector", "")
            if target.name is not None:
                # A watch on an object URL is the collection watch limited to that name.
                name_term = f"metadata.name={target.name}"
                field_text = f"{field_text},{name_term}" if field_text else name_term
                target = Target(target.resource, target.namespace, None, None)
            selector = parse_selector(
                target.resource.plural, query.get("labelSelector", ""), field_text
            )
            if verb == "watch":
                return await serve_watch(
                    request, self.store, self.faults, target, selector, self.watch_options
                )
            if verb == "list":
                body = list_objects(self.store, target, ListQuery.from_query(query), selector)
                if table.wants_table(request.headers.get("Accept", "")):
                    body = table.list_table(target.resource, body, query)
                return json_response(200, body)
            options = await self._delete_options(request)
            status, body = self._objects.delete_collection(target, options, selector)
            return json_response(status, body)

        if verb != "create" and "dryRun" in query:
            # NOTE: dry runs are simulated for create only; other verbs reject them so a
            # client never changes state it meant to leave alone.
            raise bad_request(f"dryRun is not supported by the simulator for {verb}")
        fields = FieldValidation()
        if verb in _OPTIONS_KINDS:
            fields = FieldValidation.from_query(query.get("fieldValidation"), _OPTIONS_KINDS[verb])
        if verb == "get":
            status, body = self._objects.get(target)
            if table.wants_table(request.headers.get("Accept", "")):
                body = table.object_table(target.resource, body, query)
        elif verb == "create":
            dry_run = self._dry_run(request)
            status, body = self._objects.create(
                target, await self._read_json(request), dry_run=dry_run, fields=fields
            )
        elif verb == "update":
            status, body = self._objects.update(
                target, await self._read_json(request), fields=fields
            )
        elif verb == "patch":
            content_type = request.headers.get("Content-Type", "")
            status, body = self._objects.patch(
                target, content_type, await self._read_json(request), fields=fields
            )
        elif verb == "delete":
            status, body = self._objects.delete(target, await self._delete_options(request))
        else:
            raise ApiError(405, f"verb {verb} is not supported", "MethodNotAllowed")
        return json_response(status, body, warning_headers(fields.warnings))

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for value in values:
            if value != "All":
                raise bad_request(f'Invalid dryRun value "{value}": supported values: "All"')
        return bool(values)

    async def _delete_options(self, request: web.Request) -> JsonObject:
        body = await self._read_json(request)
        options: JsonObject = dict(body) if isinstance(body, dict) else {}
        raw_grace = request.query.get("gracePeriodSeconds")
        if raw_grace is not None:
            try:
                options["gracePeriodSeconds"] = int(raw_grace)
            except ValueError as error:
                raise bad_request(f'invalid gracePeriodSeconds "{raw_grace}"') from error
        return options
