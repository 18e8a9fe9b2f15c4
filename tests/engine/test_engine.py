"""RunspaceEngine against the simulated cluster, through the real kubernetes-asyncio client."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio
import pytest
from engine_support import UNSCHEDULABLE, EngineFactory, wait_for_state, wait_pod_gone
from structlog.testing import capture_logs

from runspaced import (
    EngineClosed,
    Phase,
    Resources,
    RunspaceApiError,
    RunspaceEngine,
    RunspaceFailed,
    RunspaceNotFound,
    RunspaceSpec,
    RunspaceState,
    RunspaceTimeout,
)
from runspaced.sim.cluster import SimCluster

pytestmark = pytest.mark.anyio


async def _http_get(host: str, port: int) -> bytes:
    stream = await anyio.connect_tcp(host, port)
    async with stream:
        await stream.send(b"GET / HTTP/1.1\r\nHost: runspace\r\nConnection: close\r\n\r\n")
        chunks = []
        with anyio.fail_after(5):
            try:
                while True:
                    chunks.append(await stream.receive())
            except anyio.EndOfStream:
                pass
    return b"".join(chunks)


async def test_ready_runspace_serves_endpoint(engine: RunspaceEngine) -> None:
    created = await engine.create(RunspaceSpec(image="python:3.12", port=8080))
    assert created.state is RunspaceState.CREATING

    info = await engine.wait(created.id, timeout=20)

    assert info.state is RunspaceState.READY
    assert info.phase is Phase.READY
    assert info.endpoint is not None
    assert info.endpoint.port == 8080
    assert info.ready_at is not None
    assert info.node is not None
    assert "pulling" in info.phase_seconds
    response = await _http_get(info.endpoint.host, info.endpoint.port)
    assert response.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("image", "reasons"),
    [
        ("registry.example.com/team/does-not-exist:1.0", {"ErrImagePull", "ImagePullBackOff"}),
        ("registry.example.com/Team/App:1", {"InvalidImageName"}),
        ("registry.example.com/crashloop:1", {"Error", "CrashLoopBackOff"}),
    ],
)
async def test_failing_image_reports_reason(
    engine: RunspaceEngine, sim_cluster: SimCluster, image: str, reasons: set[str]
) -> None:
    created = await engine.create(RunspaceSpec(image=image))

    with pytest.raises(RunspaceFailed) as caught:
        await engine.wait(created.id, timeout=20)

    assert caught.value.reason in reasons
    assert caught.value.message
    assert caught.value.info is not None
    assert caught.value.info.state is RunspaceState.ERROR
    await wait_pod_gone(sim_cluster, created.id)
    late = engine.get(created.id)
    assert late is not None
    assert late.state is RunspaceState.ERROR
    assert late.reason == caught.value.reason


async def test_unschedulable_fails_at_deadline(engine: RunspaceEngine) -> None:
    spec = replace(UNSCHEDULABLE, scheduling_timeout=0.5)
    created = await engine.create(spec)

    with pytest.raises(RunspaceFailed) as caught:
        await engine.wait(created.id, timeout=20)

    assert caught.value.reason == "Unschedulable"
    assert caught.value.message is not None
    assert "Insufficient cpu" in caught.value.message


async def test_creation_deadline_times_out(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    spec = replace(UNSCHEDULABLE, creation_timeout=0.5)
    created = await engine.create(spec)

    with pytest.raises(RunspaceTimeout) as caught:
        await engine.wait(created.id)

    assert caught.value.reason == "CreationTimeout"
    assert caught.value.phase is Phase.SCHEDULING
    assert caught.value.timeout_s == pytest.approx(0.5)
    await wait_pod_gone(sim_cluster, created.id)


async def test_wait_timeout_leaves_runspace(engine: RunspaceEngine) -> None:
    spec = UNSCHEDULABLE
    created = await engine.create(spec)

    with pytest.raises(RunspaceTimeout) as caught:
        await engine.wait(created.id, timeout=0.2)

    assert caught.value.reason == "WaitTimeout"
    info = engine.get(created.id)
    assert info is not None
    assert info.state is RunspaceState.CREATING
    assert info.reason == "Unschedulable"


async def test_many_waiters_and_cancel(engine: RunspaceEngine) -> None:
    created = await engine.create(RunspaceSpec(image="python:3.12"))
    results: list[str] = []

    async def waiter() -> None:
        info = await engine.wait(created.id)
        results.append(info.state.value)

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(waiter)
        with anyio.CancelScope() as cancelled:
            cancelled.cancel()
            await engine.wait(created.id)

    assert results == ["ready", "ready", "ready"]
    assert engine.statistics()["waiters"] == 0
    again = await engine.wait(created.id)
    assert again.state is RunspaceState.READY


async def test_engine_close_fails_waiters(engine_factory: EngineFactory) -> None:
    spec = UNSCHEDULABLE
    outcome: list[BaseException] = []
    async with engine_factory() as engine:
        created = await engine.create(spec)

        async def waiter() -> None:
            try:
                await engine.wait(created.id)
            except EngineClosed as error:
                outcome.append(error)

        async with anyio.create_task_group() as group:
            group.start_soon(waiter)
            await anyio.sleep(0.1)
            await engine.aclose()

    assert len(outcome) == 1
    assert outcome[0].reason == "EngineClosed"
    with pytest.raises(EngineClosed):
        await engine.create(spec)


async def test_delete_is_idempotent(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    first = await engine.delete(info.id)
    second = await engine.delete(info.id)

    assert first is not None
    assert first.state is RunspaceState.TERMINATING
    assert second is not None
    await wait_for_state(engine, info.id, RunspaceState.DELETED)
    await wait_pod_gone(sim_cluster, info.id)
    assert await engine.delete("rs-unknown") is None


async def test_unknown_id_raises_not_found(engine: RunspaceEngine) -> None:
    with pytest.raises(RunspaceNotFound):
        await engine.wait("rs-doesnotexist")
    assert engine.get("rs-doesnotexist") is None


async def test_list_filters_state_and_labels(engine: RunspaceEngine) -> None:
    ready = await engine.create_and_wait(
        RunspaceSpec(image="python:3.12", labels={"team": "a"}), timeout=20
    )
    failed = await engine.create(RunspaceSpec(image="x/does-not-exist:1", labels={"team": "b"}))
    with pytest.raises(RunspaceFailed):
        await engine.wait(failed.id, timeout=20)

    assert [i.id for i in engine.list(state="ready")] == [ready.id]
    assert [i.id for i in engine.list(labels={"team": "b"})] == [failed.id]
    assert engine.list(state=RunspaceState.TIMEOUT) == []


async def test_ready_then_evicted_reported(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    async with engine.changes() as changes:
        assert sim_cluster.faults.evict("default", info.id)
        with anyio.fail_after(10):
            async for change in changes:
                if change.info.id == info.id and change.state_changed:
                    break

    assert change.previous is not None
    assert change.previous.state is RunspaceState.READY
    assert change.info.state is RunspaceState.ERROR
    assert change.info.reason == "Evicted"
    assert change.info.endpoint is None


async def test_deleted_behind_back_resolves(
    engine: RunspaceEngine, sim_cluster: SimCluster
) -> None:
    spec = UNSCHEDULABLE
    created = await engine.create(spec)
    await wait_for_state(engine, created.id, RunspaceState.CREATING)

    async def remove_later() -> None:
        await anyio.sleep(0.2)
        sim_cluster.faults.delete_behind_back("default", created.id)

    async with anyio.create_task_group() as group:
        group.start_soon(remove_later)
        with pytest.raises(RunspaceFailed) as caught:
            await engine.wait(created.id, timeout=10)

    assert caught.value.reason == "PodDeleted"
    assert caught.value.info is not None
    assert caught.value.info.state is RunspaceState.DELETED


async def test_missing_namespace_is_api_error(engine_factory: EngineFactory) -> None:
    async with engine_factory(namespace="no-such-namespace") as engine:
        with pytest.raises(RunspaceApiError) as caught:
            await engine.create(RunspaceSpec(image="python:3.12"))

    assert caught.value.status == 404
    assert caught.value.message is not None
    assert "no-such-namespace" in caught.value.message
    assert engine.list() == []


@pytest.mark.parametrize("status", [403, 422])
async def test_rejection_is_not_retried(
    engine: RunspaceEngine, sim_cluster: SimCluster, status: int
) -> None:
    sim_cluster.faults.fail_next(1, "POST", "/api/v1/namespaces/*/pods", status)

    with pytest.raises(RunspaceApiError) as caught:
        await engine.create(RunspaceSpec(image="python:3.12"))

    assert caught.value.status == status
    assert caught.value.message
    assert sim_cluster.requests.count("create") == 1
    assert engine.list() == []
    assert sim_cluster.store.list("pods", "default") == []


async def test_server_errors_are_retried(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    sim_cluster.faults.fail_next(2, "POST", "/api/v1/namespaces/*/pods", 503)
    sim_cluster.faults.fail_next(1, "POST", "/api/v1/namespaces/*/pods", 429, retry_after=0)

    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    assert info.state is RunspaceState.READY
    assert sim_cluster.requests.count("create") == 4


async def test_name_collision_takes_new_id(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    sim_cluster.faults.fail_next(1, "POST", "/api/v1/namespaces/*/pods", 409)

    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    assert info.state is RunspaceState.READY
    assert len(engine.list()) == 1


async def test_adopts_pods_after_restart(engine_factory: EngineFactory) -> None:
    async with engine_factory() as first:
        info = await first.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    async with engine_factory() as second:
        await second.wait_synced(10)
        adopted = second.get(info.id)

        assert adopted is not None
        assert adopted.state is RunspaceState.READY
        assert adopted.image == "python:3.12"
        assert adopted.endpoint == info.endpoint
        assert adopted.created_at is not None
        assert info.created_at is not None
        assert abs((adopted.created_at - info.created_at).total_seconds()) < 2


async def test_logs_carry_ids(engine: RunspaceEngine) -> None:
    with capture_logs() as logs:
        info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    changed = [e for e in logs if e["event"] == "runspace.state_changed" and e["state"] == "ready"]
    assert len(changed) == 1
    assert changed[0]["runspace_id"] == info.id
    assert changed[0]["pod"] == info.pod_name
    assert changed[0]["resource_version"] == info.resource_version


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (RunspaceSpec(image=""), "image"),
        (RunspaceSpec(image="python", port=0), "port"),
        (RunspaceSpec(image="python", env={"1BAD": "x"}), "env name"),
        (RunspaceSpec(image="python", resources=Resources(requests={"cpu": "lots"})), "cpu"),
        (RunspaceSpec(image="python", labels={"team": "not valid!"}), "label value"),
        (RunspaceSpec(image="python", labels={"app.kubernetes.io/managed-by": "me"}), "label"),
        (RunspaceSpec(image="python", image_pull_policy="Sometimes"), "image_pull_policy"),
    ],
)
async def test_invalid_spec_rejected_before_request(
    engine: RunspaceEngine, sim_cluster: SimCluster, spec: RunspaceSpec, field: str
) -> None:
    before = sim_cluster.requests.count("create")

    with pytest.raises(ValueError, match=field):
        await engine.create(spec)

    assert sim_cluster.requests.count("create") == before
    assert engine.list() == []


async def test_event_before_create_response(
    engine: RunspaceEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runspaced._kube.pods import PodClient

    real_create = PodClient.create

    async def slow_response(self: PodClient, manifest: dict[str, Any]) -> dict[str, Any]:
        # The server has stored the pod; its response reaches the engine late, after the
        # watch already delivered the pod's events.
        stored = await real_create(self, manifest)
        await anyio.sleep(1.0)
        return stored

    monkeypatch.setattr(PodClient, "create", slow_response)

    created = await engine.create(RunspaceSpec(image="python:3.12"))

    assert created.resource_version is not None
    assert created.state is RunspaceState.READY
    info = await engine.wait(created.id, timeout=5)
    assert info.state is RunspaceState.READY


async def test_outcome_kept_for_retention(engine_factory: EngineFactory) -> None:
    async with engine_factory(retention=0.5) as engine:
        created = await engine.create(RunspaceSpec(image="example.com/does-not-exist:1"))
        with pytest.raises(RunspaceFailed):
            await engine.wait(created.id, timeout=20)

        kept = engine.get(created.id)
        assert kept is not None
        assert kept.reason in {"ErrImagePull", "ImagePullBackOff"}
        with pytest.raises(RunspaceFailed) as late:
            await engine.wait(created.id)
        assert late.value.reason == kept.reason

        deadline = anyio.current_time() + 15
        while engine.get(created.id) is not None:
            assert anyio.current_time() < deadline, "outcome never expired"
            await anyio.sleep(0.05)

    assert engine.list() == []


async def test_watch_builds_no_client_models(
    engine: RunspaceEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes_asyncio.client import models

    built: list[str] = []

    def record(self: object, *args: object, **kwargs: object) -> None:
        built.append(type(self).__name__)

    for name in ("V1Pod", "V1PodList", "V1PodStatus", "V1ObjectMeta", "CoreV1Event"):
        monkeypatch.setattr(getattr(models, name), "__init__", record)

    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)
    await engine.delete(info.id)
    await wait_for_state(engine, info.id, RunspaceState.DELETED)

    assert built == []


async def test_events_watch_failure_blocks_nothing(
    engine_factory: EngineFactory, sim_cluster: SimCluster
) -> None:
    sim_cluster.faults.fail_next(10_000, "GET", "/api/v1/namespaces/*/events", 500)

    async with engine_factory() as engine:
        await engine.wait_synced(10)
        info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)
        health = engine.health()

    assert info.state is RunspaceState.READY
    assert info.detail is None
    assert health.events_watch_synced is False
    assert health.synced


async def test_repeated_conflicts_give_up(engine: RunspaceEngine, sim_cluster: SimCluster) -> None:
    sim_cluster.faults.fail_next(10, "POST", "/api/v1/namespaces/*/pods", 409)

    with pytest.raises(RunspaceApiError) as caught:
        await engine.create(RunspaceSpec(image="python:3.12"))

    assert caught.value.status == 409
    assert sim_cluster.requests.count("create") == 4
    assert engine.list() == []


async def test_pull_error_grace_then_error(engine_factory: EngineFactory) -> None:
    async with engine_factory(image_pull_grace=1.0) as engine:
        await engine.wait_synced(10)
        seen: list[tuple[RunspaceState, str | None]] = []
        async with engine.changes() as changes:
            created = await engine.create(RunspaceSpec(image="example.com/does-not-exist:1"))
            with anyio.fail_after(20):
                async for change in changes:
                    if change.info.id != created.id:
                        continue
                    seen.append((change.info.state, change.info.reason))
                    if change.info.state is not RunspaceState.CREATING:
                        break

    pull_reasons = {"ErrImagePull", "ImagePullBackOff"}
    in_grace = [reason for state, reason in seen if state is RunspaceState.CREATING]
    assert any(reason in pull_reasons for reason in in_grace)
    assert seen[-1][0] is RunspaceState.ERROR
    assert seen[-1][1] in pull_reasons


NO_LISTENER = {"rules": [{"image": "sim/no-listener:*", "endpoint": {"listening": False}}]}


@pytest.mark.sim_cluster(scenario=NO_LISTENER)
async def test_ready_when_ip_skips_readiness(engine_factory: EngineFactory) -> None:
    spec = RunspaceSpec(image="sim/no-listener:1")

    async with engine_factory() as engine:
        await engine.wait_synced(10)
        probed = await engine.create(spec)
        with pytest.raises(RunspaceTimeout) as caught:
            await engine.wait(probed.id, timeout=2)
    async with engine_factory(ready_when="ip") as engine:
        await engine.wait_synced(10)
        info = await engine.create_and_wait(spec, timeout=20)

    assert caught.value.reason == "WaitTimeout"
    assert caught.value.phase is Phase.STARTING
    assert info.state is RunspaceState.READY
    assert info.pod_ip is not None
