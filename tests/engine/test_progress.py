"""Phase timings and the Event watch's detail, against the simulated cluster."""

from __future__ import annotations

import time

import anyio
import pytest

from runspaced import Phase, RunspaceEngine, RunspaceSpec, RunspaceState
from runspaced._kube.manifest import ID_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from runspaced.sim.cluster import SimCluster

pytestmark = pytest.mark.anyio


async def test_phase_timings_add_up(engine: RunspaceEngine) -> None:
    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    assert info.created_at is not None
    assert info.ready_at is not None
    assert set(info.phase_seconds) <= {phase.value for phase in Phase}
    assert info.phase_seconds.get("pulling", 0) > 0
    assert all(seconds >= 0 for seconds in info.phase_seconds.values())
    total = (info.ready_at - info.created_at).total_seconds()
    assert sum(info.phase_seconds.values()) == pytest.approx(total, abs=0.05)


async def test_changes_report_phases_in_order(engine: RunspaceEngine) -> None:
    phases: list[Phase] = []
    async with engine.changes() as changes:
        created = await engine.create(RunspaceSpec(image="python:3.12"))
        with anyio.fail_after(20):
            async for change in changes:
                if change.info.id != created.id:
                    continue
                if not phases or phases[-1] is not change.info.phase:
                    phases.append(change.info.phase)
                if change.info.state is RunspaceState.READY:
                    break

    order = list(Phase)
    assert phases[0] is Phase.SCHEDULING
    assert phases[-1] is Phase.READY
    assert [order.index(p) for p in phases] == sorted(order.index(p) for p in phases)


async def test_detail_shows_latest_event(engine: RunspaceEngine) -> None:
    info = await engine.create_and_wait(RunspaceSpec(image="python:3.12"), timeout=20)

    assert info.detail is not None
    assert info.detail.split(":")[0] in {"Pulled", "Created", "Started", "Pulling", "Scheduled"}


async def test_missing_secret_is_named_in_detail(
    engine: RunspaceEngine, sim_cluster: SimCluster
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "rs-needs-secret",
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, ID_LABEL: "rs-needs-secret"},
        },
        "spec": {
            "containers": [{"name": "runspace", "image": "python:3.12"}],
            "volumes": [{"name": "creds", "secret": {"secretName": "db-password"}}],
        },
    }
    from kubernetes_asyncio import config
    from kubernetes_asyncio.client import CoreV1Api

    api_client = await config.new_client_from_config(str(sim_cluster.kubeconfig_path))
    async with api_client:
        await CoreV1Api(api_client).create_namespaced_pod("default", pod)

    deadline = time.monotonic() + 10
    while True:
        info = engine.get("rs-needs-secret")
        if info is not None and info.detail and "FailedMount" in info.detail:
            break
        assert time.monotonic() < deadline, f"no FailedMount detail: {info}"
        await anyio.sleep(0.05)

    assert info.state is RunspaceState.CREATING
    assert info.pod_ip is None
    assert 'secret "db-password" not found' in info.detail
    assert 'volume "creds"' in info.detail
