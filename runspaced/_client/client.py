"""`DaemonClient`: synchronous httpx client for the daemon's ``/v1`` API.

Errors are grouped by what the caller can do:

    DaemonError          base: the request did not produce the expected result
    ├── ConnectionFailed the daemon could not be reached (wrong URL, not running)
    └── ProblemError     the daemon responded with a problem document (status, problem)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ConnectionFailed", "DaemonClient", "DaemonError", "ProblemError", "SseEvent"]


class DaemonError(Exception):
    """A request to the daemon failed."""


class ConnectionFailed(DaemonError):
    """The daemon could not be reached, or the connection broke."""


class ProblemError(DaemonError):
    """The daemon responded with an error; `problem` is the RFC 9457 document."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(str(problem.get("detail") or problem.get("title") or f"HTTP {status}"))

    @property
    def slug(self) -> str:
        """The last part of the problem type, e.g. ``runspace-failed``."""
        return str(self.problem.get("type", "")).rpartition(":")[2]

    @property
    def runspace(self) -> dict[str, Any] | None:
        """The runspace document a 409 problem carries, or None."""
        document = self.problem.get("runspace")
        return document if isinstance(document, dict) else None


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One Server-Sent Event: `data` is the joined data lines (JSON for this daemon)."""

    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        """Decode `data` as JSON."""
        return json.loads(self.data)


class DaemonClient:
    """Client for one daemon at `url`; `token` is sent as a bearer token when given.

    `timeout` (seconds) bounds connecting and each read; waits add their own duration.
    Use as a context manager, or call `close`.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- requests ------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, expected: Sequence[int], wait: float = 0.0, **kwargs: Any
    ) -> tuple[int, Any]:
        timeout = httpx.Timeout(self._timeout + wait, connect=self._timeout)
        try:
            response = self._http.request(method, path, timeout=timeout, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach the daemon at {self.url}: {exc}") from exc
        return response.status_code, self._decode(response, expected)

    @staticmethod
    def _decode(response: httpx.Response, expected: Sequence[int]) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in expected:
            return body
        if isinstance(body, dict) and "status" in body:
            raise ProblemError(response.status_code, body)
        raise ProblemError(
            response.status_code,
            {
                "status": response.status_code,
                "detail": f"unexpected HTTP {response.status_code} from the daemon",
            },
        )

    def create(
        self, request: Mapping[str, Any], wait: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Create a runspace; return (status, document).

        Status is 202 (creating) or, with `wait` seconds, 201 (ready) or 202 (still
        creating). Raises ProblemError for every error, including 409 when the runspace
        failed while waiting (``runspace`` holds its document).
        """
        params = {"wait": wait} if wait else None
        status, body = self._request(
            "POST",
            "/v1/runspaces",
            expected=(201, 202),
            wait=wait or 0.0,
            json=dict(request),
            params=params,
        )
        return status, body

    def list(
        self, states: Sequence[str] = (), labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """List runspaces, optionally only the given states and with all the given labels."""
        params: list[tuple[str, str]] = [("state", state) for state in states]
        params += [("label", f"{key}={value}") for key, value in (labels or {}).items()]
        _, body = self._request("GET", "/v1/runspaces", expected=(200,), params=params)
        return list(body["items"])

    def get(self, runspace_id: str) -> dict[str, Any]:
        """Return one runspace document; ProblemError 404 when unknown."""
        _, body = self._request("GET", f"/v1/runspaces/{runspace_id}", expected=(200,))
        return dict(body)

    def wait(self, runspace_id: str, timeout: float) -> tuple[int, dict[str, Any]]:
        """Long-poll up to `timeout` seconds; return (200 ready | 202 still creating, document)."""
        status, body = self._request(
            "GET",
            f"/v1/runspaces/{runspace_id}/wait",
            expected=(200, 202),
            wait=timeout,
            params={"timeout": timeout},
        )
        return status, body

    def delete(self, runspace_id: str) -> tuple[int, dict[str, Any]]:
        """Delete a runspace; return (202 terminating | 200 already deleted, document)."""
        status, body = self._request("DELETE", f"/v1/runspaces/{runspace_id}", expected=(200, 202))
        return status, body

    def events(
        self,
        runspace_id: str | None = None,
        last_event_id: str | None = None,
        read_timeout: float | None = None,
    ) -> Iterator[SseEvent | None]:
        """Stream events; yields None for each keepalive so callers can check deadlines.

        `read_timeout` (seconds, None: no limit) bounds the silence between two lines.
        Ends when the daemon closes the stream. Raises ConnectionFailed or ProblemError.
        """
        path = "/v1/events" if runspace_id is None else f"/v1/runspaces/{runspace_id}/events"
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self._timeout, read=read_timeout)
        try:
            with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    self._decode(response, ())
                yield from _parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"event stream from {self.url} failed: {exc}") from exc


def _parse_sse(lines: Iterator[str]) -> Iterator[SseEvent | None]:
    event, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield SseEvent(event=event, data="\n".join(data), id=event_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            yield None
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value
