"""A small HTTP client for the sidecar daemon, and the CLI commands built on it.

This package speaks HTTP only: it imports neither the engine nor the simulated cluster,
so it describes the daemon's API as any other client would see it.
"""

from .client import ConnectionFailed, DaemonClient, DaemonError, ProblemError, SseEvent

__all__ = ["ConnectionFailed", "DaemonClient", "DaemonError", "ProblemError", "SseEvent"]
