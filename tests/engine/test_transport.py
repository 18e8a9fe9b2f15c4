"""KubeTransport's request slots: one-shot requests share a bounded part of the pool.

A scripted loopback server holds each request until the test releases it, so the tests
see how many requests the transport lets through at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration

from runspaced._kube.transport import RESERVED_CONNECTIONS, KubeTransport

pytestmark = pytest.mark.anyio


class _HoldingServer:
    """Respond to ``/held`` only after `release` is set, and to ``/quick`` at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrived = 0
        self.release = anyio.Event()
        self._arrival = anyio.Event()

    async def wait_for_arrivals(self, count: int) -> None:
        with anyio.fail_after(10):
            while self.arrived < count:
                await self._arrival.wait()
                self._arrival = anyio.Event()

    async def held(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.arrived += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._arrival.set()
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        return web.json_response({"path": request.path})

    async def quick(self, request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})


@pytest.fixture
async def holding() -> AsyncIterator[tuple[_HoldingServer, ApiClient]]:
    server = _HoldingServer()
    app = web.Application()
    app.router.add_get("/held", server.held)
    app.router.add_get("/quick", server.quick)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = ApiClient(configuration=Configuration(host=f"http://127.0.0.1:{port}"))
    yield server, client
    server.release.set()
    await client.close()
    await runner.cleanup()


async def test_requests_wait_for_a_slot(holding: tuple[_HoldingServer, ApiClient]) -> None:
    server, client = holding
    transport = KubeTransport(client, max_requests=2)
    results: list[dict[str, object]] = []

    async def fetch() -> None:
        results.append(await transport.request_json("GET", "/held"))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(fetch)
        await server.wait_for_arrivals(2)
        # Give a third request time to arrive if the slots did not hold it back.
        await anyio.sleep(0.2)
        assert server.arrived == 2
        server.release.set()

    assert len(results) == 5
    assert server.max_in_flight == 2


async def test_reserved_request_skips_slots(holding: tuple[_HoldingServer, ApiClient]) -> None:
    server, client = holding
    transport = KubeTransport(client, max_requests=1)

    async with anyio.create_task_group() as group:
        group.start_soon(transport.request_json, "GET", "/held")
        await server.wait_for_arrivals(1)

        with anyio.fail_after(10):
            reserved = await transport.request_json("GET", "/quick", reserved=True)
            stream = await transport.open_stream("/quick")
        body = await stream.read_chunk()
        stream.close()

        assert reserved == {"path": "/quick"}
        assert b"/quick" in body
        assert server.in_flight == 1
        server.release.set()


async def test_default_slots_follow_pool_size(holding: tuple[_HoldingServer, ApiClient]) -> None:
    _, client = holding
    small = Configuration(host="http://127.0.0.1:1")
    small.connection_pool_maxsize = 10

    default = KubeTransport(client)
    sized = KubeTransport(ApiClient(configuration=small))

    assert default.max_requests == 100 - RESERVED_CONNECTIONS
    assert sized.max_requests == 10 - RESERVED_CONNECTIONS
    await sized.close()


async def test_max_requests_must_be_positive(holding: tuple[_HoldingServer, ApiClient]) -> None:
    _, client = holding

    with pytest.raises(ValueError, match="max_requests must be at least 1, got 0"):
        KubeTransport(client, max_requests=0)
