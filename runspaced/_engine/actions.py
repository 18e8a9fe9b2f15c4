"""Checks the engine performs outside the Kubernetes API."""

from __future__ import annotations

import time

import anyio

from .._types import Endpoint

__all__ = ["check_endpoint"]


async def check_endpoint(endpoint: Endpoint, timeout: float) -> tuple[bool, str | None]:
    """Connect to the endpoint until it accepts a TCP connection or `timeout` seconds pass.

    Returns (True, None) on success, or (False, the last error) when the time ran out.
    Attempts are spaced 0.1 s to 1 s apart.
    """
    deadline = time.monotonic() + timeout
    delay = 0.1
    last_error = "no attempt made"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return (
                False,
                f"{endpoint} did not accept a connection within {timeout:g} s: {last_error}",
            )
        try:
            with anyio.fail_after(min(remaining, 5.0)):
                stream = await anyio.connect_tcp(endpoint.host, endpoint.port)
            await stream.aclose()
            return True, None
        except (OSError, TimeoutError) as error:
            last_error = repr(error)
        await anyio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 1.0)
