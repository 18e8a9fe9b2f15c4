"""Admin routes under /_sim/: fault injection, request counters and the node timeline.

All routes need the same bearer token as the API. Bodies are JSON.

- ``POST /_sim/faults/drop-watches``: cut every watch connection.
- ``POST /_sim/faults/stall-watches`` ``{"on": true|false}``.
- ``POST /_sim/faults/compact``: drop the change history.
- ``POST /_sim/faults/fail-next`` ``{"count", "method", "path", "status", "retryAfter"}``.
- ``POST /_sim/faults/latency`` ``{"seconds"}``.
- ``POST /_sim/faults/clear``: remove failures and latency, resume watches.
- ``GET /_sim/faults``: the active faults.
- ``POST /_sim/pods/{namespace}/{name}/evict`` ``{"message"}``.
- ``DELETE /_sim/pods/{namespace}/{name}``: remove the pod at once, skipping grace.
- ``POST /_sim/restart``: restart the API server (the response is sent first).
- ``GET /_sim/requests``, ``DELETE /_sim/requests``: request counters, reset.
- ``GET /_sim/timeline``: per-pod timestamps of the node simulation.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from .status import bad_request, not_found

if TYPE_CHECKING:
    from .server import ApiServer

__all__ = ["add_routes"]

JsonObject = dict[str, Any]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def _body(request: web.Request) -> JsonObject:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"the request body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    return data


def add_routes(app: web.Application, server: ApiServer) -> None:
    """Register the /_sim/ routes on the application."""
    faults = server.faults
    # Keep restart tasks referenced until they finish.
    background: set[asyncio.Task[None]] = set()

    async def drop_watches(request: web.Request) -> web.Response:
        return _json({"dropped": faults.drop_watches()})

    async def stall_watches(request: web.Request) -> web.Response:
        body = await _body(request)
        faults.stall_watches(bool(body.get("on", True)))
        return _json(faults.statistics())

    async def compact(request: web.Request) -> web.Response:
        return _json({"oldestResourceVersion": str(faults.compact())})

    async def fail_next(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            faults.fail_next(
                int(body.get("count", 1)),
                str(body.get("method", "*")),
                str(body.get("path", "*")),
                int(body.get("status", 500)),
                int(body["retryAfter"]) if body.get("retryAfter") is not None else None,
            )
        except (TypeError, ValueError) as error:
            raise bad_request(f"invalid fail-next request: {error}") from error
        return _json(faults.statistics())

    async def latency(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            faults.set_latency(float(body.get("seconds", 0)))
        except (TypeError, ValueError) as error:
            raise bad_request(f"invalid latency: {error}") from error
        return _json(faults.statistics())

    async def clear(request: web.Request) -> web.Response:
        faults.clear()
        return _json(faults.statistics())

    async def show_faults(request: web.Request) -> web.Response:
        return _json(faults.statistics())

    async def evict(request: web.Request) -> web.Response:
        body = await _body(request)
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        message = body.get("message")
        if not faults.evict(namespace, name, message if isinstance(message, str) else None):
            raise not_found("pods", name)
        return _json({"evicted": True})

    async def remove_pod(request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        removed = faults.delete_behind_back(namespace, name)
        if removed is None:
            raise not_found("pods", name)
        return _json({"kind": "Pod", "apiVersion": "v1", **removed})

    async def restart(request: web.Request) -> web.Response:
        async def later() -> None:
            await asyncio.sleep(0.05)
            await faults.restart_server()

        task = asyncio.get_running_loop().create_task(later())
        background.add(task)
        task.add_done_callback(background.discard)
        return _json({"restarting": True}, status=202)

    async def requests(request: web.Request) -> web.Response:
        counters = server.requests
        return _json(
            {
                "total": counters.total,
                "byVerb": counters.by_verb(),
                "byResource": counters.by_resource(),
            }
        )

    async def reset_requests(request: web.Request) -> web.Response:
        server.requests.reset()
        return _json({"total": 0})

    async def timeline(request: web.Request) -> web.Response:
        rows = [
            {"namespace": namespace, "name": name, **dict(times)}
            for (namespace, name), times in server.timeline().items()
        ]
        return _json({"pods": rows})

    app.router.add_post("/_sim/faults/drop-watches", drop_watches)
    app.router.add_post("/_sim/faults/stall-watches", stall_watches)
    app.router.add_post("/_sim/faults/compact", compact)
    app.router.add_post("/_sim/faults/fail-next", fail_next)
    app.router.add_post("/_sim/faults/latency", latency)
    app.router.add_post("/_sim/faults/clear", clear)
    app.router.add_get("/_sim/faults", show_faults)
    app.router.add_post("/_sim/pods/{namespace}/{name}/evict", evict)
    app.router.add_delete("/_sim/pods/{namespace}/{name}", remove_pod)
    app.router.add_post("/_sim/restart", restart)
    app.router.add_get("/_sim/requests", requests)
    app.router.add_delete("/_sim/requests", reset_requests)
    app.router.add_get("/_sim/timeline", timeline)
