"""New runspace records: one per `create`, one per pod adopted from the watch.

Pure constructors. The engine stores the records, schedules their deadlines and
publishes them. Nothing here touches the engine's state.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .._kube.manifest import ID_LABEL
from .._state.machine import Runspace
from .._state.records import PodRecord
from .._types import RunspaceSpec
from .settings import EngineSettings

__all__ = ["adopted_runspace", "new_runspace", "parse_timestamp"]


def new_runspace(
    spec: RunspaceSpec,
    runspace_id: str,
    settings: EngineSettings,
    *,
    now: float,
    wall: datetime,
) -> Runspace:
    """Return the record of a runspace about to be created, deadlines counted from `now`.

    `now` is a `time.monotonic()` value and `wall` the same moment in UTC. The spec's
    own timeouts win over the engine's defaults.
    """
    creation_timeout = spec.creation_timeout or settings.creation_timeout
    scheduling_timeout = spec.scheduling_timeout or settings.scheduling_timeout
    return Runspace(
        id=runspace_id,
        namespace=settings.namespace,
        image=spec.image,
        port=spec.port,
        created_at=wall,
        created_mono=now,
        creation_deadline=now + creation_timeout,
        scheduling_deadline=now + scheduling_timeout,
        labels={**dict(settings.extra_labels), **spec.labels, ID_LABEL: runspace_id},
        phase_entered=now,
    )


def adopted_runspace(
    record: PodRecord,
    settings: EngineSettings,
    *,
    now: float,
    wall: datetime,
) -> Runspace:
    """Return the record of a labelled pod that this engine did not create.

    Such a pod was created by an earlier engine, for example before a restart. Its
    age and deadlines count from the pod's creationTimestamp, or from `wall` when
    that is missing or invalid.
    """
    created_at = parse_timestamp(record.created) or wall
    age = max(0.0, (wall - created_at).total_seconds())
    return Runspace(
        id=record.name,
        namespace=record.namespace or settings.namespace,
        image=record.image or "",
        port=record.port or 0,
        created_at=created_at,
        created_mono=now - age,
        creation_deadline=now - age + settings.creation_timeout,
        scheduling_deadline=now - age + settings.scheduling_timeout,
        labels=dict(record.labels),
        phase_entered=now,
        pod_seen=True,
        create_confirmed_at=now,
    )


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp as the API server writes it, or return None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
