"""The create request of one runspace: retries, name collisions and our own pod after a retry.

The engine registers a runspace before calling `send_create`, so that watch events
arriving before the response are applied. This module only sends requests; the engine
decides what a failure means for the runspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import structlog

from .._errors import RunspaceApiError
from .._kube.backoff import Backoff
from .._kube.errors import ApiStatusError, TransportError
from .._kube.manifest import CREATE_TOKEN_ANNOTATION
from .._kube.pods import PodClient

__all__ = ["CreateAttempt", "send_create"]

log = structlog.get_logger("runspaced.engine")

# Random 10-character ids collide almost never, so repeated 409s mean something else.
MAX_ID_COLLISIONS = 3


@dataclass(slots=True)
class CreateAttempt:
    """Progress of one `send_create` call, readable by the caller when it raises.

    `runspace_id` is the id in use, which changes after a name collision. `sent` is
    True once a request for that id may have reached the API server.
    """

    runspace_id: str
    token: str
    sent: bool = False
    collisions: int = 0


async def send_create(
    pods: PodClient,
    attempt: CreateAttempt,
    *,
    build_manifest: Callable[[str], dict[str, Any]],
    renew_id: Callable[[str], str],
    retry_until: float,
    backoff: Backoff,
) -> None:
    """POST the pod until the API server stores it.

    `build_manifest(id)` returns the pod for an id. After a 409 for a pod that is not
    ours (its create token differs), `renew_id(old_id)` returns a new id, up to
    `MAX_ID_COLLISIONS` times. A 409 for our own pod (an earlier attempt did reach
    the server) counts as success. 5xx, 429 and connection failures are retried with
    `backoff` until the monotonic time `retry_until`.

    Raises RunspaceApiError for a rejection, for repeated collisions and when the
    retry time runs out.
    """
    while True:
        try:
            attempt.sent = True
            await pods.create(build_manifest(attempt.runspace_id))
            return
        except ApiStatusError as error:
            if error.status == 409:
                if await _is_own_pod(pods, attempt.runspace_id, attempt.token):
                    return
                attempt.collisions += 1
                if attempt.collisions > MAX_ID_COLLISIONS:
                    raise RunspaceApiError(
                        attempt.runspace_id, error.reason, error.message, status=409
                    ) from error
                log.info("runspace.id_collided", runspace_id=attempt.runspace_id)
                attempt.runspace_id = renew_id(attempt.runspace_id)
                attempt.sent = False
                continue
            if not (error.is_transient and time.monotonic() < retry_until):
                raise RunspaceApiError(
                    attempt.runspace_id, error.reason, error.message, status=error.status
                ) from error
            failure: Exception = error
            retry_after = error.retry_after
        except TransportError as error:
            if time.monotonic() >= retry_until:
                raise RunspaceApiError(
                    attempt.runspace_id, "ConnectionFailed", str(error), status=0
                ) from error
            failure = error
            retry_after = None

        delay = backoff.next_delay(retry_after)
        log.warning(
            "runspace.create_retry_scheduled",
            runspace_id=attempt.runspace_id,
            attempt=backoff.attempt,
            delay_s=round(delay, 3),
            error=str(failure),
        )
        await anyio.sleep(delay)


async def _is_own_pod(pods: PodClient, name: str, token: str) -> bool:
    """Return True when the existing pod carries our create token."""
    try:
        pod = await pods.get(name)
    except (ApiStatusError, TransportError) as error:
        log.warning("runspace.collision_check_failed", pod=name, error=str(error))
        return False
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(CREATE_TOKEN_ANNOTATION) == token)
