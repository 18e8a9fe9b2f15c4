"""The per-runspace state machine, driven with pod snapshots and no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runspaced import Phase, RunspaceState
from runspaced._state.machine import (
    DeletePod,
    Policy,
    Runspace,
    VerifyEndpoint,
    apply_deadlines,
    apply_delete_requested,
    apply_event,
    apply_pod,
    apply_pod_gone,
    apply_verification,
    next_deadline,
)
from runspaced._state.records import event_record, pod_record

WALL = datetime(2026, 1, 1, tzinfo=UTC)


def _runspace(now: float = 0.0, creation: float = 600.0, scheduling: float = 60.0) -> Runspace:
    return Runspace(
        id="rs-test",
        namespace="default",
        image="python:3.12",
        port=8080,
        created_at=WALL,
        created_mono=now,
        creation_deadline=now + creation,
        scheduling_deadline=now + scheduling,
        phase_entered=now,
    )


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "rs-test", "namespace": "default", "resourceVersion": "7"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "runspace", "image": "x"}]},
        "status": status,
    }


PULLING = _pod(
    phase="Pending",
    podIP="127.1.0.5",
    conditions=[{"type": "PodScheduled", "status": "True"}],
    containerStatuses=[{"name": "runspace", "state": {"waiting": {"reason": "ContainerCreating"}}}],
)
READY = _pod(
    phase="Running",
    podIP="127.1.0.5",
    conditions=[{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
    containerStatuses=[{"name": "runspace", "ready": True, "state": {"running": {}}}],
)
PULL_ERROR = _pod(
    phase="Pending",
    podIP="127.1.0.5",
    conditions=[{"type": "PodScheduled", "status": "True"}],
    containerStatuses=[
        {
            "name": "runspace",
            "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}},
        }
    ],
)
UNSCHEDULABLE = {
    "metadata": {"name": "rs-test", "namespace": "default"},
    "status": {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ],
    },
}


def test_pulling_then_ready_records_phases() -> None:
    runspace = _runspace()
    policy = Policy()

    apply_pod(runspace, pod_record(PULLING), 1.0, WALL, policy)
    assert runspace.state is RunspaceState.CREATING
    assert runspace.phase is Phase.PULLING

    effects = apply_pod(runspace, pod_record(READY), 3.5, WALL, policy)

    assert effects == []
    assert runspace.state is RunspaceState.READY
    assert runspace.phase_seconds["scheduling"] == 1.0
    assert runspace.phase_seconds["pulling"] == 2.5
    info = runspace.snapshot()
    assert info.endpoint is not None
    assert str(info.endpoint) == "127.1.0.5:8080"


def test_pull_error_fails_at_once_and_deletes() -> None:
    runspace = _runspace()

    effects = apply_pod(runspace, pod_record(PULL_ERROR), 1.0, WALL, Policy())

    assert runspace.state is RunspaceState.ERROR
    assert runspace.reason == "ErrImagePull"
    assert runspace.message == "not found"
    assert effects == [DeletePod("rs-test")]


def test_pull_error_within_grace_clears() -> None:
    runspace = _runspace()
    policy = Policy(image_pull_grace=5.0)

    apply_pod(runspace, pod_record(PULL_ERROR), 1.0, WALL, policy)
    assert runspace.state is RunspaceState.CREATING
    assert next_deadline(runspace, policy) == 6.0

    apply_pod(runspace, pod_record(READY), 2.0, WALL, policy)
    assert runspace.state is RunspaceState.READY


def test_pull_error_past_grace_fails() -> None:
    runspace = _runspace()
    policy = Policy(image_pull_grace=5.0)
    apply_pod(runspace, pod_record(PULL_ERROR), 1.0, WALL, policy)

    effects = apply_deadlines(runspace, 6.0, WALL, policy)

    assert runspace.state is RunspaceState.ERROR
    assert runspace.reason == "ErrImagePull"
    assert effects == [DeletePod("rs-test")]


def test_unschedulable_becomes_error_at_deadline() -> None:
    runspace = _runspace(scheduling=10.0)
    policy = Policy()
    apply_pod(runspace, pod_record(UNSCHEDULABLE), 1.0, WALL, policy)
    assert runspace.state is RunspaceState.CREATING
    assert next_deadline(runspace, policy) == 10.0

    assert apply_deadlines(runspace, 9.0, WALL, policy) == []
    apply_deadlines(runspace, 10.0, WALL, policy)

    assert runspace.state is RunspaceState.ERROR
    assert runspace.reason == "Unschedulable"
    assert runspace.message is not None
    assert "Insufficient cpu" in runspace.message


def test_creation_deadline_times_out() -> None:
    runspace = _runspace(creation=30.0)
    apply_pod(runspace, pod_record(PULLING), 1.0, WALL, Policy())

    effects = apply_deadlines(runspace, 30.0, WALL, Policy())

    assert runspace.state is RunspaceState.TIMEOUT
    assert runspace.reason == "CreationTimeout"
    assert runspace.message is not None
    assert "pulling" in runspace.message
    assert effects == [DeletePod("rs-test")]


def test_no_delete_when_disabled() -> None:
    runspace = _runspace()

    effects = apply_pod(
        runspace, pod_record(PULL_ERROR), 1.0, WALL, Policy(delete_on_failure=False)
    )

    assert runspace.state is RunspaceState.ERROR
    assert effects == []


def test_ready_then_evicted_is_error() -> None:
    runspace = _runspace()
    apply_pod(runspace, pod_record(READY), 1.0, WALL, Policy())
    evicted = _pod(
        phase="Failed", reason="Evicted", message="The node was low on resource: memory. "
    )

    apply_pod(runspace, pod_record(evicted), 2.0, WALL, Policy())

    assert runspace.state is RunspaceState.ERROR
    assert runspace.reason == "Evicted"
    assert runspace.snapshot().endpoint is None


def test_pod_deleted_behind_back() -> None:
    runspace = _runspace()
    apply_pod(runspace, pod_record(READY), 1.0, WALL, Policy())

    apply_pod_gone(runspace, 2.0, WALL)

    assert runspace.state is RunspaceState.DELETED
    assert runspace.reason == "PodDeleted"


def test_failure_outlives_cleanup() -> None:
    runspace = _runspace()
    apply_pod(runspace, pod_record(PULL_ERROR), 1.0, WALL, Policy())

    terminating = dict(PULL_ERROR)
    terminating["metadata"] = {
        **PULL_ERROR["metadata"],
        "deletionTimestamp": "2026-01-01T00:00:01Z",
    }
    apply_pod(runspace, pod_record(terminating), 2.0, WALL, Policy())
    apply_pod_gone(runspace, 3.0, WALL)

    assert runspace.state is RunspaceState.ERROR
    assert runspace.reason == "ErrImagePull"
    assert runspace.pod_gone


def test_delete_request_then_gone() -> None:
    runspace = _runspace()
    apply_pod(runspace, pod_record(READY), 1.0, WALL, Policy())

    effects = apply_delete_requested(runspace, 2.0, WALL)
    assert runspace.state is RunspaceState.TERMINATING
    assert effects == [DeletePod("rs-test")]

    apply_pod_gone(runspace, 3.0, WALL)
    assert runspace.state is RunspaceState.DELETED
    assert runspace.reason is None
    assert apply_delete_requested(runspace, 4.0, WALL) == []


def test_verify_endpoint_before_ready() -> None:
    runspace = _runspace()
    policy = Policy(verify_endpoint=True)

    effects = apply_pod(runspace, pod_record(READY), 1.0, WALL, policy)
    assert runspace.state is RunspaceState.CREATING
    assert runspace.phase is Phase.VERIFYING
    assert len(effects) == 1
    assert isinstance(effects[0], VerifyEndpoint)

    again = apply_pod(runspace, pod_record(READY), 1.5, WALL, policy)
    assert again == []

    apply_verification(runspace, True, None, 2.0, WALL, policy)
    assert runspace.state is RunspaceState.READY
    assert runspace.phase_seconds["verifying"] == 1.0


def test_verify_failure_is_error() -> None:
    runspace = _runspace()
    policy = Policy(verify_endpoint=True)
    apply_pod(runspace, pod_record(READY), 1.0, WALL, policy)

    effects = apply_verification(runspace, False, "refused", 2.0, WALL, policy)

    assert runspace.state is RunspaceState.ERROR
    assert runspace.reason == "EndpointUnreachable"
    assert effects == [DeletePod("rs-test")]


def test_event_detail_keeps_newest() -> None:
    runspace = _runspace()
    newer = {
        "metadata": {"namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "rs-test"},
        "reason": "Pulling",
        "message": 'Pulling image "python:3.12"',
        "lastTimestamp": "2026-01-01T00:00:05Z",
    }
    older = {
        **newer,
        "reason": "Scheduled",
        "message": "assigned",
        "lastTimestamp": "2026-01-01T00:00:01Z",
    }

    assert apply_event(runspace, event_record(newer))
    assert not apply_event(runspace, event_record(older))
    assert runspace.detail == 'Pulling: Pulling image "python:3.12"'


def test_delete_after_cleanup_sends_nothing() -> None:
    runspace = _runspace()
    cleanup = apply_pod(runspace, pod_record(PULL_ERROR), 1.0, WALL, Policy())
    assert cleanup == [DeletePod("rs-test")]

    effects = apply_delete_requested(runspace, 2.0, WALL)

    assert effects == []
    assert runspace.state is RunspaceState.TERMINATING
    assert runspace.reason == "ErrImagePull"
