"""Scheduling by requests and nodeSelector, Unschedulable shape, retry when room frees."""

from __future__ import annotations

from collections import Counter

import pytest

from runspaced._state.classify import classify_pod
from runspaced._types import RunspaceState
from runspaced.sim.nodes import NodeSpec
from runspaced.sim.scheduler import pod_requests, unschedulable_message

from .conftest import Harness, condition, is_ready, running


def big(cpu: str) -> list[dict[str, object]]:
    return [{"name": "main", "image": "sim/app:1", "resources": {"requests": {"cpu": cpu}}}]


def test_pod_requests_sum_and_init_max() -> None:
    spec = {
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}},
        ],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
        "overhead": {"cpu": "100m"},
    }
    requests = pod_requests(spec)
    assert requests.cpu_millis == 2100
    assert requests.memory_bytes == 1536 * 2**20


def test_unschedulable_message_sorts_reasons() -> None:
    message = unschedulable_message(
        3,
        Counter({"Insufficient cpu": 1, "node(s) didn't match Pod's node affinity/selector": 2}),
        Counter(
            {
                "No preemption victims found for incoming pod": 1,
                "Preemption is not helpful for scheduling": 2,
            }
        ),
    )
    assert message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims "
        "found for incoming pod, 2 Preemption is not helpful for scheduling."
    )


@pytest.mark.anyio
async def test_nodes_registered(harness: Harness) -> None:
    nodes = harness.store.list("nodes")
    assert [n["metadata"]["name"] for n in nodes] == ["sim-node-1", "sim-node-2", "sim-node-3"]
    node = nodes[0]
    assert node["status"]["allocatable"] == {
        "cpu": "4",
        "memory": "16Gi",
        "pods": "110",
        "ephemeral-storage": "95551679124",
        "hugepages-2Mi": "0",
    }
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == "127.0.1.1"
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")


@pytest.mark.anyio
async def test_scheduled_pod_gets_binding_and_event(harness: Harness) -> None:
    harness.create_pod("web")
    pod = await harness.wait_for("web", lambda p: bool(p["spec"].get("nodeName")))
    scheduled = condition(pod, "PodScheduled")
    assert scheduled is not None
    assert scheduled["status"] == "True"
    event = next(e for e in harness.events("web") if e["reason"] == "Scheduled")
    assert event["message"] == f"Successfully assigned default/web to {pod['spec']['nodeName']}"
    assert event["type"] == "Normal"
    assert event["reportingComponent"] == "default-scheduler"
    assert ("default", "web") in harness.sim.timeline
    assert "scheduled" in harness.sim.timeline[("default", "web")]


@pytest.mark.anyio
async def test_pods_spread_over_nodes(harness: Harness) -> None:
    for index in range(3):
        harness.create_pod(f"spread-{index}", containers=big("1"))
    nodes = set()
    for index in range(3):
        pod = await harness.wait_for(f"spread-{index}", lambda p: bool(p["spec"].get("nodeName")))
        nodes.add(pod["spec"]["nodeName"])
    assert nodes == {"sim-node-1", "sim-node-2", "sim-node-3"}


@pytest.mark.anyio
async def test_node_selector_places_pod() -> None:
    specs = [NodeSpec(name="plain"), NodeSpec(name="gpu", labels={"accelerator": "yes"})]
    async with running(nodes=specs) as harness:
        harness.create_pod("picky", nodeSelector={"accelerator": "yes"})
        pod = await harness.wait_for("picky", lambda p: bool(p["spec"].get("nodeName")))
        assert pod["spec"]["nodeName"] == "gpu"


@pytest.mark.anyio
async def test_unschedulable_shape_and_event(harness: Harness) -> None:
    harness.create_pod("huge", containers=big("5"))
    pod = await harness.wait_for("huge", lambda p: condition(p, "PodScheduled") is not None)
    scheduled = condition(pod, "PodScheduled")
    assert scheduled is not None
    assert scheduled["status"] == "False"
    assert scheduled["reason"] == "Unschedulable"
    assert scheduled["message"] == (
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
        "3 No preemption victims found for incoming pod."
    )
    # As in the fixture of an unschedulable pod: no node, no container statuses, Pending.
    assert "nodeName" not in pod["spec"]
    assert pod["status"]["phase"] == "Pending"
    assert "containerStatuses" not in pod["status"]
    verdict = classify_pod(pod)
    assert verdict.state is RunspaceState.CREATING
    assert verdict.reason == "Unschedulable"

    event = next(e for e in harness.events("huge") if e["reason"] == "FailedScheduling")
    assert event["type"] == "Warning"
    assert event["message"] == scheduled["message"]
    assert "unschedulable" in harness.sim.timeline[("default", "huge")]


@pytest.mark.anyio
async def test_selector_mismatch_message(harness: Harness) -> None:
    harness.create_pod("nowhere", nodeSelector={"zone": "mars"})
    pod = await harness.wait_for("nowhere", lambda p: condition(p, "PodScheduled") is not None)
    scheduled = condition(pod, "PodScheduled")
    assert scheduled is not None
    assert scheduled["message"] == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


@pytest.mark.anyio
async def test_too_many_pods_reason() -> None:
    async with running(nodes=[NodeSpec(name="tiny", pods=1)]) as harness:
        harness.create_pod("first")
        await harness.wait_for("first", lambda p: bool(p["spec"].get("nodeName")))
        harness.create_pod("second")
        pod = await harness.wait_for("second", lambda p: condition(p, "PodScheduled") is not None)
        scheduled = condition(pod, "PodScheduled")
        assert scheduled is not None
        assert scheduled["message"].startswith("0/1 nodes are available: 1 Too many pods.")


@pytest.mark.anyio
async def test_unschedulable_pod_scheduled_when_room_frees() -> None:
    async with running(nodes=[NodeSpec(name="only", cpu="2")]) as harness:
        harness.create_pod("holder", containers=big("1500m"))
        await harness.wait_for("holder", is_ready)
        harness.create_pod("waiter", containers=big("1"))
        await harness.wait_for("waiter", lambda p: condition(p, "PodScheduled") is not None)
        assert harness.pod("waiter")["spec"].get("nodeName") is None  # type: ignore[index]

        harness.store.remove("pods", "default", "holder")
        pod = await harness.wait_for("waiter", is_ready)
        assert pod["spec"]["nodeName"] == "only"
        scheduled = condition(pod, "PodScheduled")
        assert scheduled is not None
        assert scheduled["status"] == "True"
        reasons = harness.event_reasons("waiter")
        assert reasons.index("FailedScheduling") < reasons.index("Scheduled")


@pytest.mark.anyio
async def test_terminal_pod_frees_room() -> None:
    async with running(nodes=[NodeSpec(name="only", cpu="1")]) as harness:
        harness.create_pod(
            "crasher",
            image="sim/crashloop:1",
            restart_policy="Never",
            containers=[
                {
                    "name": "main",
                    "image": "sim/crashloop:1",
                    "resources": {"requests": {"cpu": "1"}},
                }
            ],
        )
        harness.create_pod("next", containers=big("1"))
        await harness.wait_for("crasher", lambda p: p["status"].get("phase") == "Failed")
        pod = await harness.wait_for("next", lambda p: bool(p["spec"].get("nodeName")))
        assert pod["spec"]["nodeName"] == "only"


@pytest.mark.anyio
async def test_repeated_failures_aggregate_events() -> None:
    async with running(nodes=[NodeSpec(name="only", cpu="1")]) as harness:
        harness.create_pod("huge", containers=big("2"))
        await harness.wait_for("huge", lambda p: condition(p, "PodScheduled") is not None)
        # Two more attempts, triggered by freed room elsewhere.
        harness.sim.scheduler.retry_unschedulable()
        harness.create_pod("small", containers=big("100m"))
        await harness.wait_for("small", is_ready)
        harness.store.remove("pods", "default", "small")

        def failed_twice(_: dict[str, object]) -> bool:
            events = [e for e in harness.events("huge") if e["reason"] == "FailedScheduling"]
            return bool(events) and (events[0].get("series") or {}).get("count", 1) >= 2

        await harness.wait_for("huge", failed_twice)
        events = [e for e in harness.events("huge") if e["reason"] == "FailedScheduling"]
        assert len(events) == 1
