"""Checks the engine performs outside the Kubernetes API."""

from __future__ import annotations

import time

import anyio
import structlog

from .._kube.backoff import Backoff
from .._kube.errors import ApiStatusError, TransportError
from .._kube.pods import PodClient
from .._types import Endpoint

__all__ = ["check_endpoint", "delete_pod_until_done"]

log = structlog.get_logger("runspaced.engine")


async def delete_pod_until_done(
    pods: PodClient, name: str, grace_period_seconds: int | None, backoff: Backoff
) -> bool:
    """Send DELETE for the pod until the API server accepts it, retrying forever.

    Returns True when the request was accepted and False when the pod did not exist
    (404). Every other failure is logged and retried after `backoff`.
    """
    bound = log.bind(runspace_id=name, pod=name)
    while True:
        try:
            await pods.delete(name, grace_period_seconds=grace_period_seconds)
            bound.info("runspace.pod_delete_sent")
            return True
        except ApiStatusError as error:
            if error.status == 404:
                bound.info("runspace.pod_already_gone")
                return False
            delay = backoff.next_delay(error.retry_after)
            failure = str(error)
        except TransportError as error:
            delay = backoff.next_delay()
            failure = str(error)
        bound.warning(
            "runspace.pod_delete_retry_scheduled",
            attempt=backoff.attempt,
            delay_s=round(delay, 3),
            error=failure,
        )
        await anyio.sleep(delay)


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
