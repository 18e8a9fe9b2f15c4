"""Exceptions raised by the engine.

The tree is grouped by what the caller can do next::

    RunspaceError                 carries runspace_id, reason, message, info
    ├── RunspaceFailed            the pod failed (ImagePullBackOff, Evicted, deleted, ...)
    ├── RunspaceTimeout           a deadline passed before the runspace was ready
    ├── RunspaceNotFound          the id is unknown to this engine
    ├── RunspaceApiError          the API server rejected a request (status, reason)
    └── EngineClosed              the engine stopped while the caller waited

Input validation raises the built-in `ValueError`, before any API request.
"""

from __future__ import annotations

from ._types import Phase, RunspaceInfo

__all__ = [
    "EngineClosed",
    "RunspaceApiError",
    "RunspaceError",
    "RunspaceFailed",
    "RunspaceNotFound",
    "RunspaceTimeout",
]


class RunspaceError(Exception):
    """A runspace did not become usable, or a request about it failed."""

    def __init__(
        self,
        runspace_id: str | None,
        reason: str | None,
        message: str | None,
        info: RunspaceInfo | None = None,
    ) -> None:
        self.runspace_id = runspace_id
        self.reason = reason
        self.message = message
        self.info = info
        super().__init__(runspace_id, reason, message)

    def __str__(self) -> str:
        subject = f"runspace {self.runspace_id}" if self.runspace_id else "runspace"
        text = f"{subject}: {self.reason or 'failed'}"
        if self.message:
            text += f": {self.message}"
        return text


class RunspaceFailed(RunspaceError):
    """The pod failed or disappeared; `reason` is the Kubernetes reason."""


class RunspaceTimeout(RunspaceError):
    """A deadline passed; `phase` is where the runspace was and `timeout_s` the limit."""

    def __init__(
        self,
        runspace_id: str | None,
        reason: str | None,
        message: str | None,
        info: RunspaceInfo | None = None,
        *,
        phase: Phase | None = None,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(runspace_id, reason, message, info)
        self.phase = phase
        self.timeout_s = timeout_s


class RunspaceNotFound(RunspaceError):
    """The engine has no runspace with this id (never created, or forgotten after retention)."""

    def __init__(self, runspace_id: str) -> None:
        super().__init__(runspace_id, "NotFound", "no runspace with this id is known to the engine")


class RunspaceApiError(RunspaceError):
    """The API server rejected a request; `status` is the HTTP status code."""

    def __init__(
        self,
        runspace_id: str | None,
        reason: str | None,
        message: str | None,
        *,
        status: int,
    ) -> None:
        super().__init__(runspace_id, reason, message)
        self.status = status

    def __str__(self) -> str:
        return f"{super().__str__()} (HTTP {self.status})"


class EngineClosed(RunspaceError):
    """The engine was closed while the caller waited, or before the call."""

    def __init__(self, runspace_id: str | None = None) -> None:
        super().__init__(runspace_id, "EngineClosed", "the engine was closed")
