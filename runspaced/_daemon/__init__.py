"""The sidecar daemon: an HTTP API around one `RunspaceEngine` (``runspaced serve``).

Modules, one concept each: `config` (settings from file, env and flags), `profiles`
(operator templates and the override policy), `models` (API documents), `problems`
(RFC 9457 errors), `auth`, `limits` and `access` (ASGI middleware), `sse` (event ring
buffer and streams), `expiry` (TTL deletion), `metrics`, `context` (shared state and
background tasks), `runspaces`, `events` and `health` (routes), `app` (the FastAPI app),
`server` (socket, uvicorn, signals), `logs`, `cli`.

This package is not a client: `runspaced._client` speaks to it over HTTP only.
"""

from .app import create_app
from .config import ConfigError, DaemonConfig, load_config
from .profiles import PolicyError, Profile, resolve_request
from .server import Daemon, bind_socket

__all__ = [
    "ConfigError",
    "Daemon",
    "DaemonConfig",
    "PolicyError",
    "Profile",
    "bind_socket",
    "create_app",
    "load_config",
    "resolve_request",
]
