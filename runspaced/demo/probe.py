"""A real request to a runspace's endpoint: TCP connect, then ``GET /``."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from .. import Endpoint

__all__ = ["ProbeResult", "probe_endpoint"]

_MAX_RESPONSE_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Response of one endpoint check.

    `status` is the HTTP status code, or None when no valid status line arrived
    (connection refused, timeout, garbage); `error` then describes the failure. `body` is
    the response body decoded as UTF-8 with replacement, stripped.
    """

    endpoint: Endpoint
    status: int | None
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx response."""
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        """Return a one-line account, e.g. ``HTTP 200 "hello from ..."``."""
        if self.status is None:
            return f"no answer: {self.error}"
        body = self.body.splitlines()[0] if self.body else ""
        return f'HTTP {self.status} "{body[:60]}"' if body else f"HTTP {self.status}"


async def probe_endpoint(endpoint: Endpoint, timeout: float = 3.0) -> ProbeResult:
    """Connect to `endpoint`, send ``GET /`` (HTTP/1.1, Connection: close) and read the response.

    Never raises for network failures: they come back as a result with `status` None.
    `timeout` bounds the whole exchange, in seconds.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _exchange(endpoint)
    except TimeoutError:
        return ProbeResult(endpoint, None, error=f"timed out after {timeout:g} s")
    except OSError as error:
        return ProbeResult(endpoint, None, error=error.strerror or repr(error))


async def _exchange(endpoint: Endpoint) -> ProbeResult:
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    try:
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        request = (
            f"GET / HTTP/1.1\r\nHost: {host}:{endpoint.port}\r\n"
            "User-Agent: runspaced-demo\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii"))
        await writer.drain()
        response = b""
        while len(response) < _MAX_RESPONSE_BYTES:
            chunk = await reader.read(_MAX_RESPONSE_BYTES - len(response))
            if not chunk:
                break
            response += chunk
    finally:
        writer.close()
        # The peer may reset the connection after its response, which is already read.
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    head, _, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return ProbeResult(endpoint, None, error=f"invalid status line {status_line[:80]!r}")
    return ProbeResult(endpoint, int(parts[1]), body.decode("utf-8", "replace").strip())
