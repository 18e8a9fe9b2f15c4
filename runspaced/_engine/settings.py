"""Engine settings and the health report."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from .._kube.manifest import validate_id_prefix
from .._kube.watch import WatchStats
from .._state.classify import ReadyWhen

__all__ = ["EngineHealth", "EngineSettings"]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Settings of one `RunspaceEngine`. Durations are in seconds.

    creation_timeout: a runspace not READY this long after `create` becomes TIMEOUT.
    scheduling_timeout: a pod still Unschedulable this long after `create` becomes
        ERROR with reason Unschedulable. The default (60 s) leaves a cluster
        autoscaler time to react to a single pod but not to a whole node pool.
    image_pull_grace: how long a pull error (ErrImagePull, ImagePullBackOff, ...) may
        last before it fails the runspace; 0 fails at once.
    delete_on_failure: delete the pod of a runspace that failed or timed out.
    ready_when: "ready" (phase Running, podIP and the Ready condition) or "ip"
        (phase Running with a podIP, the old meaning).
    retention: how long a finished runspace (deleted pod) stays in the cache, so a
        late waiter or `get()` still learns its outcome.
    verify_endpoint: after the pod is Ready, connect to the endpoint before READY.
    watch_events: also watch core/v1 Events for the latest detail of each pod.
    readiness_probe: give the container a TCP readiness probe on its port.
    run_as_user: UID the container runs as (non-root); None leaves it to the image.
    close_timeout: how long closing the engine waits for pod deletions in flight.
    """

    namespace: str = "default"
    id_prefix: str = "rs-"
    creation_timeout: float = 600.0
    scheduling_timeout: float = 60.0
    image_pull_grace: float = 0.0
    delete_on_failure: bool = True
    ready_when: ReadyWhen = "ready"
    retention: float = 900.0
    verify_endpoint: bool = False
    verify_timeout: float = 10.0
    watch_events: bool = True
    readiness_probe: bool = True
    run_as_user: int | None = 65532
    extra_labels: tuple[tuple[str, str], ...] = ()
    page_size: int = 500
    watch_timeout_range: tuple[float, float] = (300.0, 600.0)
    stall_timeout: float = 120.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    create_retry_timeout: float = 60.0
    delete_grace_period: int | None = None
    changes_buffer: int = 10_000
    close_timeout: float = 5.0

    def __post_init__(self) -> None:
        validate_id_prefix(self.id_prefix)
        for name in (
            "creation_timeout",
            "scheduling_timeout",
            "retention",
            "verify_timeout",
            "stall_timeout",
            "backoff_base",
            "backoff_cap",
            "create_retry_timeout",
            "close_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"invalid setting {name}={getattr(self, name)!r}: must be positive"
                )
        if self.image_pull_grace < 0:
            raise ValueError(f"invalid setting image_pull_grace={self.image_pull_grace!r}")
        if self.ready_when not in ("ready", "ip"):
            raise ValueError(f"invalid setting ready_when={self.ready_when!r}: 'ready' or 'ip'")
        if not self.namespace:
            raise ValueError("invalid setting namespace: must not be empty")
        if self.page_size < 1 or self.changes_buffer < 1:
            raise ValueError("invalid setting: page_size and changes_buffer must be at least 1")

    @classmethod
    def from_keywords(cls, **settings: Any) -> EngineSettings:
        """Build settings from keyword arguments, rejecting unknown names."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(f"unknown engine setting(s): {', '.join(unknown)}")
        if "extra_labels" in settings and isinstance(settings["extra_labels"], dict):
            settings["extra_labels"] = tuple(sorted(settings["extra_labels"].items()))
        return cls(**settings)


@dataclass(frozen=True, slots=True)
class EngineHealth:
    """Health of the engine's shared watch.

    `synced` is True once the first list completed. `last_event_age_s` is the time
    since the watch last received anything (event, bookmark or list), or None.
    """

    synced: bool
    watch_connected: bool
    last_event_age_s: float | None
    restarts: int
    relists: int
    resumes: int
    events: int
    bookmarks: int
    last_error: str | None
    events_watch_synced: bool | None

    @classmethod
    def from_stats(cls, pods: WatchStats | None, events: WatchStats | None) -> EngineHealth:
        """Build the report from the pod watch's and the Event watch's counters."""
        age = None
        if pods is not None and pods.last_event_at is not None:
            age = round(time.monotonic() - pods.last_event_at, 3)
        return cls(
            synced=bool(pods and pods.synced),
            watch_connected=bool(pods and pods.connected),
            last_event_age_s=age,
            restarts=pods.restarts if pods else 0,
            relists=pods.relists if pods else 0,
            resumes=pods.resumes if pods else 0,
            events=pods.events if pods else 0,
            bookmarks=pods.bookmarks if pods else 0,
            last_error=pods.last_error if pods else None,
            events_watch_synced=events.synced if events is not None else None,
        )
