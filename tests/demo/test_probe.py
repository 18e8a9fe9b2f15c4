"""The endpoint probe against real loopback servers."""

from __future__ import annotations

import asyncio
import socket

import pytest

from runspaced import Endpoint
from runspaced.demo.probe import probe_endpoint


async def _serve(answer: bytes) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    return server, port


@pytest.mark.anyio
async def test_probe_reads_status_and_body() -> None:
    server, port = await _serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    async with server:
        result = await probe_endpoint(Endpoint("127.0.0.1", port))

    assert result.ok
    assert result.status == 200
    assert result.body == "hello"
    assert result.describe() == 'HTTP 200 "hello"'


@pytest.mark.anyio
async def test_probe_reports_non_2xx() -> None:
    server, port = await _serve(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
    async with server:
        result = await probe_endpoint(Endpoint("127.0.0.1", port))

    assert result.status == 503
    assert not result.ok


@pytest.mark.anyio
async def test_probe_reports_invalid_status_line() -> None:
    server, port = await _serve(b"SSH-2.0-OpenSSH\r\n\r\n")
    async with server:
        result = await probe_endpoint(Endpoint("127.0.0.1", port))

    assert result.status is None
    assert result.error is not None
    assert "invalid status line" in result.error


@pytest.mark.anyio
async def test_probe_reports_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    result = await probe_endpoint(Endpoint("127.0.0.1", port))

    assert result.status is None
    assert not result.ok
    assert result.describe().startswith("no answer:")
