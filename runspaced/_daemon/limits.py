"""Request body size limit, as ASGI middleware.

A request whose ``Content-Length`` exceeds the limit gets 413 before any byte of its body
is read. A body without a length (chunked) is read up to the limit and rejected with 413
as soon as it goes past it. Accepted bodies are buffered and handed to the application
unchanged, which is cheap because the limit is small (64 KiB by default).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import Problem, problem_response

__all__ = ["BodyLimitMiddleware"]


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        "payload-too-large",
        "Request body too large",
        f"the request body exceeds the limit of {limit} bytes",
    )


class BodyLimitMiddleware:
    """Answer 413 to HTTP requests whose body is larger than `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await problem_response(_too_large(self.limit), scope["path"])(scope, receive, send)
            return

        # Read the whole body first, so an oversized chunked body never reaches a route.
        chunks: list[bytes] = []
        size = 0
        more = True
        disconnect: Message | None = None
        while more:
            message = await receive()
            if message["type"] != "http.request":
                disconnect = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await problem_response(_too_large(self.limit), scope["path"])(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)

        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if disconnect is not None:
                return disconnect
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
