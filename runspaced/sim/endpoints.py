"""TCP listeners that stand in for the processes of running containers.

For a running container with a containerPort the simulator listens on podIP:port, so a
caller can really connect to a runspace. Each listener answers any HTTP/1.1 request with
200 and a short text body on ``GET /`` (404 on other paths) and closes the connection.
Pod IPs are loopback addresses (127.0.0.0/8), which Linux routes to the local host
without configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog

__all__ = ["EndpointListeners"]

log = structlog.get_logger("runspaced.sim.endpoints")

_REQUEST_TIMEOUT_SECONDS = 5.0
_MAX_REQUEST_BYTES = 16_384


class EndpointListeners:
    """The open listeners, keyed by (namespace, pod name)."""

    def __init__(self) -> None:
        self._servers: dict[tuple[str, ...], list[asyncio.Server]] = {}

    def __len__(self) -> int:
        return sum(len(servers) for servers in self._servers.values())

    def is_listening(self, key: tuple[str, ...]) -> bool:
        """Return True when the pod has at least one open listener."""
        return bool(self._servers.get(key))

    async def open(self, key: tuple[str, ...], ip: str, ports: Iterable[int], body: str) -> bool:
        """Listen on ip:port for each port; return True when every port is listening.

        A port that cannot be bound (address in use, too many open files) is logged and
        skipped: the pod's endpoint is then down, the simulation goes on.
        """
        payload = body.encode()
        servers = self._servers.setdefault(key, [])
        complete = True
        for port in ports:
            try:
                server = await asyncio.start_server(
                    lambda r, w: _answer(r, w, payload), host=ip, port=port, reuse_address=True
                )
            except OSError as error:
                complete = False
                log.warning(
                    "sim.endpoint.listen_failed",
                    namespace=key[0],
                    pod=key[1],
                    ip=ip,
                    port=port,
                    errno=error.errno,
                    error=str(error),
                )
                continue
            servers.append(server)
            log.debug("sim.endpoint.listened", namespace=key[0], pod=key[1], ip=ip, port=port)
        if not servers:
            self._servers.pop(key, None)
        return complete

    def close(self, key: tuple[str, ...]) -> None:
        """Stop listening for a pod; connections already accepted finish on their own."""
        for server in self._servers.pop(key, []):
            server.close()

    async def close_all(self) -> None:
        """Close every listener and wait until the sockets are released."""
        servers = [server for group in self._servers.values() for server in group]
        self._servers.clear()
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=1.0)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> None:
    try:
        try:
            head = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), timeout=_REQUEST_TIMEOUT_SECONDS
            )
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            # A plain TCP connect-and-close (a port check) or a client that sent no request.
            return
        request_line = head[:_MAX_REQUEST_BYTES].split(b"\r\n", 1)[0].split()
        path = request_line[1] if len(request_line) >= 2 else b"/"
        path = path.split(b"?", 1)[0]
        if path == b"/":
            status, payload = b"200 OK", body
        else:
            status, payload = b"404 Not Found", b"404 page not found\n"
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(payload)).encode() + b"\r\nConnection: close\r\n\r\n"
        )
        if request_line[:1] != [b"HEAD"]:
            writer.write(payload)
        await writer.drain()
    except (ConnectionError, OSError):
        return
    finally:
        writer.close()
