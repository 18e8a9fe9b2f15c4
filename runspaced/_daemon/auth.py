"""Bearer token authentication, as ASGI middleware.

With a token configured, every request except the public probes (``/healthz``,
``/readyz``) and ``/openapi.json`` must carry ``Authorization: Bearer <token>``. The
comparison runs in constant time (`hmac.compare_digest`), and neither the expected nor the
presented token is ever logged or echoed. A missing or wrong token gets 401 with
``WWW-Authenticate: Bearer``, before the request body is read.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import Problem, problem_response

__all__ = ["PUBLIC_PATHS", "BearerAuthMiddleware", "token_matches"]

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})


def token_matches(authorization: str | None, token: str) -> bool:
    """Return True when `authorization` is ``Bearer <token>`` (scheme case-insensitive)."""
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


class BearerAuthMiddleware:
    """Reject HTTP requests without the bearer token; `token` None lets everything through."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return

        authorization = Headers(scope=scope).get("authorization")
        if token_matches(authorization, self.token):
            await self.app(scope, receive, send)
            return

        detail = (
            "the Authorization header is missing; send 'Authorization: Bearer <token>'"
            if not authorization
            else "the bearer token is invalid"
        )
        problem = Problem(
            401,
            "unauthorized",
            "Authentication required",
            detail,
            headers={"WWW-Authenticate": 'Bearer realm="runspaced"'},
        )
        await problem_response(problem, scope["path"])(scope, receive, send)
