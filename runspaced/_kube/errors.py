"""Errors of the API client layer, translated once from aiohttp and HTTP statuses."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["ApiStatusError", "TransportError", "WatchExpired", "WatchStalled"]


class TransportError(Exception):
    """The request did not complete: connection refused or reset, TLS failure, read timeout."""


class ApiStatusError(Exception):
    """The API server responded with a non-2xx status.

    `reason` and `message` come from the Kubernetes Status body when there is one.
    `retry_after` is the Retry-After header in seconds, or None.
    """

    def __init__(
        self,
        status: int,
        reason: str | None,
        message: str | None,
        *,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.details = details or {}
        super().__init__(status, reason, message)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason or ''}: {self.message or ''}".strip()

    @property
    def is_transient(self) -> bool:
        """True for statuses worth retrying: 429 and every 5xx."""
        return self.status == 429 or self.status >= 500

    @classmethod
    def from_body(
        cls, status: int, body: bytes, retry_after_header: str | None = None
    ) -> ApiStatusError:
        """Build the error from a response body that is a Status object, or anything else."""
        reason: str | None = None
        message: str | None = None
        details: dict[str, Any] | None = None
        try:
            decoded = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict):
            reason = decoded.get("reason") if isinstance(decoded.get("reason"), str) else None
            message = decoded.get("message") if isinstance(decoded.get("message"), str) else None
            raw_details = decoded.get("details")
            details = raw_details if isinstance(raw_details, dict) else None
        elif body:
            message = body[:500].decode("utf-8", errors="replace")
        return cls(
            status,
            reason,
            message,
            retry_after=parse_retry_after(retry_after_header),
            details=details,
        )


class WatchExpired(Exception):
    """The resourceVersion a list or watch started from is gone (410 Expired): relist."""


class WatchStalled(Exception):
    """A watch sent nothing, not even a bookmark, for longer than the stall timeout."""


def parse_retry_after(value: str | None) -> float | None:
    """Return the Retry-After header in seconds, or None when absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
