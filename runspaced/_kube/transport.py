"""Raw HTTP access to the Kubernetes API through a kubernetes-asyncio `ApiClient`.

The `ApiClient` supplies the server URL, TLS settings and credentials (including token
refresh for exec plugins and in-cluster service accounts). Responses are read as bytes
and decoded with orjson: no kubernetes-asyncio model objects are built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import anyio
import orjson

from .errors import ApiStatusError, TransportError

__all__ = ["KubeTransport", "StreamResponse"]

QueryParams = Sequence[tuple[str, str | int | bool]]

# Stream reads are bounded by the watch's stall timeout instead.
_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10, sock_connect=10, sock_read=30)
_STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=None)


class StreamResponse:
    """An open streaming response; `read_chunk()` returns b"" at the end of the stream."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def read_chunk(self) -> bytes:
        try:
            return await self._response.content.readany()
        except (aiohttp.ClientError, OSError) as error:
            raise TransportError(f"watch stream failed: {error!r}") from error

    def close(self) -> None:
        self._response.close()


# Connections of the client's pool that one-shot requests leave free: one for each
# watch stream and one for each list, pods and Events.
RESERVED_CONNECTIONS = 4


class KubeTransport:
    """Send requests to the API server and translate failures into our errors.

    Every method raises `ApiStatusError` for a non-2xx response and `TransportError`
    when no response arrived.

    The client's connection pool (kubernetes-asyncio's ``connection_pool_maxsize``, 100
    by default) is shared by every request. One-shot requests wait for one of
    `max_requests` slots, by default the pool size minus `RESERVED_CONNECTIONS`, so a
    burst of creates cannot hold back a watch stream or the list before it. A watch
    opened late can find its resourceVersion expired and must relist.
    """

    def __init__(self, api_client: Any, *, max_requests: int | None = None) -> None:
        self.api_client = api_client
        if max_requests is None:
            configuration = getattr(api_client, "configuration", None)
            pool_size = getattr(configuration, "connection_pool_maxsize", None) or 100
            max_requests = max(1, pool_size - RESERVED_CONNECTIONS)
        if max_requests < 1:
            raise ValueError(f"max_requests must be at least 1, got {max_requests}")
        self.max_requests = max_requests
        self._request_slots = anyio.Semaphore(max_requests)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        query: QueryParams = (),
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        reserved: bool = False,
    ) -> dict[str, Any]:
        """Send one request and return the decoded JSON object of a 2xx response.

        `reserved` requests (the lists of a watch) skip the wait for a request slot.
        """
        if reserved:
            payload, response = await self._exchange(method, path, query, body, content_type)
        else:
            async with self._request_slots:
                payload, response = await self._exchange(method, path, query, body, content_type)
        self._check(response, payload)
        try:
            decoded = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError as error:
            raise TransportError(f"{method} {path}: response is not JSON: {error}") from error
        if not isinstance(decoded, dict):
            raise TransportError(f"{method} {path}: response is not a JSON object")
        return decoded

    async def _exchange(
        self,
        method: str,
        path: str,
        query: QueryParams,
        body: Mapping[str, Any] | None,
        content_type: str,
    ) -> tuple[bytes, aiohttp.ClientResponse]:
        response = await self._send(method, path, query, body, content_type, _REQUEST_TIMEOUT)
        try:
            payload = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TransportError(
                f"{method} {path}: reading the response failed: {error!r}"
            ) from error
        finally:
            response.release()
        return payload, response

    async def open_stream(self, path: str, *, query: QueryParams = ()) -> StreamResponse:
        """Open a GET whose body is read incrementally (a watch). It takes no request slot."""
        response = await self._send("GET", path, query, None, "application/json", _STREAM_TIMEOUT)
        if not 200 <= response.status <= 299:
            try:
                payload = await response.read()
            except (TimeoutError, aiohttp.ClientError, OSError):
                payload = b""
            finally:
                response.release()
            self._check(response, payload)
        return StreamResponse(response)

    async def _send(
        self,
        method: str,
        path: str,
        query: QueryParams,
        body: Mapping[str, Any] | None,
        content_type: str,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            response: aiohttp.ClientResponse = await self.api_client.call_api(
                path,
                method,
                query_params=list(query),
                header_params=headers,
                body=dict(body) if body is not None else None,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TransportError(f"{method} {path} failed: {error!r}") from error
        return response

    @staticmethod
    def _check(response: aiohttp.ClientResponse, payload: bytes) -> None:
        if 200 <= response.status <= 299:
            return
        raise ApiStatusError.from_body(
            response.status, payload, response.headers.get("Retry-After")
        )

    async def close(self) -> None:
        await self.api_client.close()
