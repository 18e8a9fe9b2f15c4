"""ResourceWatch against a scripted HTTP server: opaque resourceVersions and odd events.

The simulated cluster numbers its resourceVersions, so these rules are checked against a
small aiohttp server that sends exactly the stream under test, through the real
kubernetes-asyncio client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import pytest
from aiohttp import web
from engine_support import RecordingSink
from kubernetes_asyncio.client import ApiClient, Configuration
from structlog.testing import capture_logs

from runspaced._kube.backoff import Backoff
from runspaced._kube.transport import KubeTransport
from runspaced._kube.watch import ResourceWatch

pytestmark = pytest.mark.anyio

PATH = "/api/v1/namespaces/default/pods"


def _pod(name: str, version: str, **annotations: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "resourceVersion": version, "annotations": annotations},
    }


def _line(event_type: str, obj: Mapping[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"


class _ScriptedServer:
    """Serves one list and a scripted sequence of watch streams; records watch requests."""

    def __init__(self) -> None:
        self.watch_versions: list[str] = []
        self.stopped = anyio.Event()
        self.lists = 0
        self.scripts: list[list[bytes]] = [
            [
                _line("ADDED", _pod("p2", "zz-9")),
                _line("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "bm/7"}}),
                _line("WEIRD", _pod("p2", "ignored")),
                _line("MODIFIED", _pod("p2", "q", note="x" * (200 * 1024))),
                _line("ERROR", {"kind": "Status", "code": 500, "reason": "InternalError"}),
            ],
            [],
            [
                _line(
                    "ERROR",
                    {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
                )
            ],
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") not in ("1", "true"):
            self.lists += 1
            body = {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "opaque-A"},
                "items": [_pod("p1", "x1")],
            }
            return web.json_response(body)

        self.watch_versions.append(request.query["resourceVersion"])
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        if self.scripts:
            for chunk in self.scripts.pop(0):
                # Split each line in two writes, as chunked streams do.
                await response.write(chunk[:7])
                await response.write(chunk[7:])
            await response.write_eof()
            return response
        await self.stopped.wait()
        return response


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[_ScriptedServer, str]]:
    server = _ScriptedServer()
    app = web.Application()
    app.router.add_get(PATH, server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield server, f"http://127.0.0.1:{port}"
    server.stopped.set()
    await runner.cleanup()


async def test_scripted_stream_rules(scripted: tuple[_ScriptedServer, str]) -> None:
    server, url = scripted
    configuration = Configuration(host=url)
    client = ApiClient(configuration=configuration)
    sink = RecordingSink()
    watch = ResourceWatch(
        KubeTransport(client),
        path=PATH,
        kind="pods",
        parse=lambda obj: str(obj["metadata"]["name"]),
        sink=sink,
        backoff=Backoff(0.01, 0.05),
    )

    with capture_logs() as logs:
        async with anyio.create_task_group() as group:
            group.start_soon(watch.run)
            with anyio.fail_after(10):
                while True:
                    if server.lists >= 2 and len(server.watch_versions) >= 4:
                        break
                    await anyio.sleep(0.02)
            group.cancel_scope.cancel()
    await client.close()

    # Resumes use the last resourceVersion seen, bookmarks included, as opaque strings.
    assert server.watch_versions[:4] == ["opaque-A", "q", "q", "opaque-A"]
    assert sink.events == [("ADDED", "p2"), ("MODIFIED", "p2")]
    assert sink.snapshots == [["p1"], ["p1"]]
    assert watch.stats.bookmarks == 1
    assert watch.stats.relists == 1
    assert watch.stats.restarts == 1
    assert watch.stats.resumes == 1
    unknown = [e for e in logs if e["event"] == "watch.event_type_unknown"]
    assert [e["event_type"] for e in unknown] == ["WEIRD"]
