"""Kubelet lifecycle: status sequence, image behaviours, restarts, probes, endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runspaced._state.classify import classify_pod
from runspaced._types import RunspaceState
from runspaced.sim.scenario import Scenario

from .conftest import Harness, condition, container_state, is_ready, running, waiting_reason

Pod = dict[str, Any]


def phase(pod: Pod) -> str | None:
    return pod.get("status", {}).get("phase")


@pytest.mark.anyio
async def test_status_sequence_ip_before_pull(harness: Harness) -> None:
    harness.create_pod("seq")
    pod = await harness.wait_for("seq", is_ready)
    history = [p for p in harness.pod_history("seq") if p["status"].get("containerStatuses")]

    first = history[0]["status"]
    assert first["phase"] == "Pending"
    assert first["hostIP"] == first["hostIPs"][0]["ip"]
    assert "startTime" in first
    assert "podIP" not in first
    assert condition(history[0], "PodReadyToStartContainers")["status"] == "False"  # type: ignore[index]
    assert waiting_reason(history[0]) == "ContainerCreating"

    sandbox = history[1]["status"]
    assert sandbox["podIP"].startswith("127.")
    assert sandbox["podIP"] != "127.0.0.1"
    assert sandbox["podIPs"] == [{"ip": sandbox["podIP"]}]
    assert waiting_reason(history[1]) == "ContainerCreating"
    assert condition(history[1], "PodReadyToStartContainers")["status"] == "True"  # type: ignore[index]

    status = pod["status"]
    assert status["phase"] == "Running"
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    container = status["containerStatuses"][0]
    assert container["ready"] is True
    assert container["started"] is True
    assert container["image"] == "docker.io/sim/app:1.0"
    assert container["imageID"].startswith("docker.io/sim/app@sha256:")
    assert container["containerID"].startswith("containerd://")
    assert classify_pod(pod).state is RunspaceState.READY

    events = {e["reason"]: e for e in harness.events("seq")}
    assert list(events) == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    assert events["Pulling"]["message"] == 'Pulling image "sim/app:1.0"'
    assert events["Pulled"]["message"].startswith('Successfully pulled image "sim/app:1.0" in ')
    assert "including waiting). Image size: " in events["Pulled"]["message"]
    assert events["Created"]["message"] == "Created container: main"
    assert events["Started"]["message"] == "Started container main"
    assert events["Started"]["source"] == {"component": "kubelet", "host": pod["spec"]["nodeName"]}
    assert events["Started"]["involvedObject"]["fieldPath"] == "spec.containers{main}"
    timeline = harness.sim.timeline[("default", "seq")]
    assert timeline["scheduled"] <= timeline["ready"]


@pytest.mark.anyio
async def test_invalid_image_name(harness: Harness) -> None:
    image = "registry.example.com/eck-snapshot\u200bs/eck-operator:1.0.0"
    harness.create_pod("bad", image=image)
    pod = await harness.wait_for("bad", lambda p: waiting_reason(p) == "InvalidImageName")
    waiting = container_state(pod)["waiting"]
    assert waiting["message"].startswith('Failed to apply default image tag "registry.example')
    assert "\\u200b" in waiting["message"]
    assert pod["status"]["podIP"]
    assert phase(pod) == "Pending"
    assert pod["status"]["containerStatuses"][0]["imageID"] == ""
    verdict = classify_pod(pod)
    assert verdict.state is RunspaceState.ERROR
    assert verdict.reason == "InvalidImageName"
    reasons = harness.event_reasons("bad")
    assert "InspectFailed" in reasons
    assert "Failed" in reasons
    assert "failed" in harness.sim.timeline[("default", "bad")]


@pytest.mark.anyio
async def test_image_pull_back_off_alternates(harness: Harness) -> None:
    harness.create_pod("missing", image="sim/does-not-exist:1", restart_policy="Never")

    def reasons() -> list[str]:
        seen: list[str] = []
        for snapshot in harness.pod_history("missing"):
            reason = waiting_reason(snapshot)
            if reason in ("ErrImagePull", "ImagePullBackOff") and (not seen or seen[-1] != reason):
                seen.append(reason)
        return seen

    pod = await harness.wait_for("missing", lambda _: reasons().count("ImagePullBackOff") >= 2)
    seen = reasons()
    assert seen[:4] == ["ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ImagePullBackOff"]
    assert phase(pod) == "Pending"
    assert (
        container_state(pod)["waiting"]["message"]
        == 'Back-off pulling image "sim/does-not-exist:1"'
    )

    err = next(p for p in harness.pod_history("missing") if waiting_reason(p) == "ErrImagePull")
    assert container_state(err)["waiting"]["message"].startswith(
        'failed to pull and unpack image "docker.io/sim/does-not-exist:1"'
    )
    messages = [e["message"] for e in harness.events("missing")]
    assert "Error: ErrImagePull" in messages
    assert "Error: ImagePullBackOff" in messages
    assert any(m.startswith('Failed to pull image "sim/does-not-exist:1": ') for m in messages)
    back_off = [e for e in harness.events("missing") if e["reason"] == "BackOff"]
    assert back_off[0]["type"] == "Normal"
    assert classify_pod(pod).reason == "ImagePullBackOff"


@pytest.mark.anyio
async def test_err_image_never_pull(harness: Harness) -> None:
    harness.create_pod(
        "never", containers=[{"name": "c", "image": "producer:1.0", "imagePullPolicy": "Never"}]
    )
    pod = await harness.wait_for("never", lambda p: waiting_reason(p) == "ErrImageNeverPull")
    assert container_state(pod)["waiting"]["message"] == (
        'Container image "producer:1.0" is not present with pull policy of Never'
    )
    assert phase(pod) == "Pending"
    assert pod["status"]["podIP"]
    assert classify_pod(pod).reason == "ErrImageNeverPull"


@pytest.mark.anyio
async def test_preloaded_image_runs_with_never() -> None:
    scenario = Scenario.from_dict([{"image": "sim/prewarmed:*", "preloaded": True}])
    async with running(scenario=scenario) as harness:
        spec = [{"name": "c", "image": "sim/prewarmed:1", "imagePullPolicy": "Never"}]
        harness.create_pod("warm", containers=spec)
        await harness.wait_for("warm", is_ready)
        pulled = next(e for e in harness.events("warm") if e["reason"] == "Pulled")
        assert pulled["message"] == 'Container image "sim/prewarmed:1" already present on machine'
        assert "Pulling" not in harness.event_reasons("warm")


@pytest.mark.anyio
async def test_crash_loop_back_off(harness: Harness) -> None:
    harness.create_pod("crash", image="sim/crashloop:1")
    pod = await harness.wait_for(
        "crash",
        lambda p: (
            waiting_reason(p) == "CrashLoopBackOff"
            and p["status"]["containerStatuses"][0]["restartCount"] >= 2
        ),
    )
    status = pod["status"]["containerStatuses"][0]
    assert phase(pod) == "Running"
    assert status["ready"] is False
    assert status["started"] is False
    terminated = status["lastState"]["terminated"]
    assert terminated["reason"] == "Error"
    assert terminated["exitCode"] == 1
    uid = pod["metadata"]["uid"]
    assert status["state"]["waiting"]["message"] == (
        f"back-off 20s restarting failed container=main pod=crash_default({uid})"
    )
    history = harness.pod_history("crash")
    first_exit = next(p for p in history if "terminated" in container_state(p))
    assert first_exit["status"]["containerStatuses"][0]["restartCount"] == 0
    assert first_exit["status"]["containerStatuses"][0]["lastState"] == {}
    assert classify_pod(first_exit).state is RunspaceState.ERROR
    back_off = next(e for e in harness.events("crash") if e["reason"] == "BackOff")
    assert back_off["type"] == "Warning"
    assert back_off["message"] == (
        f"Back-off restarting failed container main in pod crash_default({uid})"
    )
    assert classify_pod(pod).reason == "CrashLoopBackOff"


@pytest.mark.anyio
async def test_crash_with_restart_never_fails(harness: Harness) -> None:
    harness.create_pod("once", image="sim/crashloop:1", restart_policy="Never")
    pod = await harness.wait_for("once", lambda p: phase(p) == "Failed")
    terminated = container_state(pod)["terminated"]
    assert terminated["reason"] == "Error"
    assert terminated["exitCode"] == 1
    assert pod["status"]["podIP"]
    ready = condition(pod, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "PodFailed")
    verdict = classify_pod(pod)
    assert verdict.state is RunspaceState.ERROR
    assert verdict.reason == "Error"


@pytest.mark.anyio
async def test_oom_killed_restarts(harness: Harness) -> None:
    harness.create_pod("oom", image="sim/oom:1")

    def restarted_exit() -> Pod | None:
        for snapshot in harness.pod_history("oom"):
            statuses = snapshot["status"].get("containerStatuses") or [{}]
            if statuses[0].get("restartCount", 0) >= 1 and "terminated" in container_state(
                snapshot
            ):
                return snapshot
        return None

    await harness.wait_for("oom", lambda _: restarted_exit() is not None)
    pod = restarted_exit()
    assert pod is not None
    status = pod["status"]["containerStatuses"][0]
    assert status["state"]["terminated"]["reason"] == "OOMKilled"
    assert status["state"]["terminated"]["exitCode"] == 137
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert phase(pod) == "Running"
    assert classify_pod(pod).reason == "OOMKilled"


@pytest.mark.anyio
async def test_init_containers_run_in_order(harness: Harness) -> None:
    init = [{"name": f"init-{i}", "image": "sim/tools:1"} for i in range(3)]
    harness.create_pod("init", init_containers=init)
    pod = await harness.wait_for("init", is_ready)
    states = [s["state"] for s in pod["status"]["initContainerStatuses"]]
    assert all(s["terminated"]["reason"] == "Completed" for s in states)
    assert all(s["terminated"]["exitCode"] == 0 for s in states)

    history = harness.pod_history("init")
    snapshots = [p for p in history if p["status"].get("initContainerStatuses")]
    first = snapshots[0]
    assert [waiting_reason(first, i, init=True) for i in range(3)] == ["PodInitializing"] * 3
    assert waiting_reason(first) == "PodInitializing"
    initialized = condition(first, "Initialized")
    assert initialized is not None
    assert initialized["reason"] == "ContainersNotInitialized"
    assert initialized["message"] == "containers with incomplete status: [init-0 init-1 init-2]"

    # Init:1/3 as in the fixture of a pending pod: 0 done, 1 running, 2 waiting.
    middle = next(p for p in snapshots if "running" in container_state(p, 1, init=True))
    assert "terminated" in container_state(middle, 0, init=True)
    assert waiting_reason(middle, 2, init=True) == "PodInitializing"
    assert waiting_reason(middle) == "PodInitializing"
    assert phase(middle) == "Pending"
    assert middle["status"]["podIP"]

    running_order = []
    for snapshot in snapshots:
        for index in range(3):
            if "running" in container_state(snapshot, index, init=True):
                if index not in running_order:
                    running_order.append(index)
                assert all(
                    "terminated" in container_state(snapshot, j, init=True) for j in range(index)
                )
    assert running_order == [0, 1, 2]


@pytest.mark.anyio
async def test_failing_init_with_restart_never(harness: Harness) -> None:
    init = [{"name": "setup", "image": "sim/crashloop:1"}]
    harness.create_pod("initfail", init_containers=init, restart_policy="Never")
    pod = await harness.wait_for("initfail", lambda p: phase(p) == "Failed")
    assert container_state(pod, init=True)["terminated"]["exitCode"] == 1
    assert waiting_reason(pod) == "PodInitializing"
    assert classify_pod(pod).state is RunspaceState.ERROR


@pytest.mark.anyio
async def test_readiness_probe_delays_ready(harness: Harness) -> None:
    container = {
        "name": "web",
        "image": "sim/web:1",
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 2},
    }
    harness.create_pod("probe", containers=[container])
    pod = await harness.wait_for("probe", is_ready)
    unready = next(p for p in harness.pod_history("probe") if "running" in container_state(p))
    status = unready["status"]["containerStatuses"][0]
    assert status["ready"] is False
    assert status["started"] is True
    assert phase(unready) == "Running"
    assert condition(unready, "Ready")["reason"] == "ContainersNotReady"  # type: ignore[index]
    assert classify_pod(unready).state is RunspaceState.CREATING
    assert classify_pod(pod).state is RunspaceState.READY


@pytest.mark.anyio
async def test_startup_probe_holds_started(harness: Harness) -> None:
    container = {
        "name": "app",
        "image": "sim/app:2",
        "startupProbe": {"exec": {"command": ["true"]}},
    }
    harness.create_pod("startup", containers=[container])
    await harness.wait_for("startup", is_ready)
    early = next(p for p in harness.pod_history("startup") if "running" in container_state(p))
    assert early["status"]["containerStatuses"][0]["started"] is False


@pytest.mark.anyio
async def test_endpoint_answers_http(harness: Harness) -> None:
    container = {"name": "web", "image": "sim/web:1", "ports": [{"containerPort": 18080}]}
    harness.create_pod("ep", containers=[container])
    pod = await harness.wait_for("ep", is_ready)
    ip = pod["status"]["podIP"]
    reader, writer = await asyncio.open_connection(ip, 18080)
    writer.write(f"GET / HTTP/1.1\r\nHost: {ip}\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"default/ep" in response


@pytest.mark.anyio
async def test_endpoint_never_listening() -> None:
    scenario = Scenario.from_dict([{"image": "sim/mute:*", "endpoint": {"listening": False}}])
    async with running(scenario=scenario) as harness:
        plain = {"name": "web", "image": "sim/mute:1", "ports": [{"containerPort": 18081}]}
        harness.create_pod("mute", containers=[plain])
        pod = await harness.wait_for("mute", is_ready)
        with pytest.raises(OSError):
            await asyncio.open_connection(pod["status"]["podIP"], 18081)

        probed = dict(plain, readinessProbe={"httpGet": {"port": 18081, "path": "/healthz"}})
        harness.create_pod("mute-probed", containers=[probed])
        await harness.wait_for(
            "mute-probed", lambda p: "Unhealthy" in harness.event_reasons("mute-probed")
        )
        pod = harness.pod("mute-probed")
        assert pod is not None
        assert not is_ready(pod)
        unhealthy = next(e for e in harness.events("mute-probed") if e["reason"] == "Unhealthy")
        ip = pod["status"]["podIP"]
        assert unhealthy["message"] == (
            f'Readiness probe failed: Get "http://{ip}:18081/healthz": dial tcp {ip}:18081: '
            "connect: connection refused"
        )


@pytest.mark.anyio
async def test_graceful_deletion(harness: Harness) -> None:
    container = {"name": "web", "image": "sim/web:1", "ports": [{"containerPort": 18082}]}
    harness.create_pod("bye", containers=[container])
    pod = await harness.wait_for("bye", is_ready)
    ip = pod["status"]["podIP"]

    def mark(obj: Pod) -> None:
        obj["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
        obj["metadata"]["deletionGracePeriodSeconds"] = 30

    harness.store.update("pods", "default", "bye", mark)
    await harness.wait_gone("bye")
    final = harness.pod_history("bye")[-1]
    terminated = container_state(final)["terminated"]
    assert terminated["reason"] == "Completed"
    assert terminated["exitCode"] == 0
    assert phase(final) == "Succeeded"
    killing = next(e for e in harness.events("bye") if e["reason"] == "Killing")
    assert killing["message"] == "Stopping container web"
    with pytest.raises(OSError):
        await asyncio.open_connection(ip, 18082)
    assert "deleted" in harness.sim.timeline[("default", "bye")]


@pytest.mark.anyio
async def test_removed_behind_back_stops_quietly(harness: Harness) -> None:
    harness.create_pod("ghost", image="sim/does-not-exist:2")
    await harness.wait_for("ghost", lambda p: waiting_reason(p) == "ErrImagePull")
    harness.store.remove("pods", "default", "ghost")
    await asyncio.sleep(0.2)
    assert ("default", "ghost") not in harness.sim.kubelet.pods
    assert harness.pod("ghost") is None


@pytest.mark.anyio
async def test_eviction_shape(harness: Harness) -> None:
    harness.create_pod("evictee")
    await harness.wait_for("evictee", is_ready)
    assert harness.sim.evict("default", "evictee") is True
    pod = harness.pod("evictee")
    assert pod is not None
    status = pod["status"]
    assert status["phase"] == "Failed"
    assert status["reason"] == "Evicted"
    assert status["message"] == (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
    )
    disruption = condition(pod, "DisruptionTarget")
    assert disruption is not None
    assert (disruption["status"], disruption["reason"]) == ("True", "TerminationByKubelet")
    assert container_state(pod)["terminated"]["exitCode"] == 137
    evicted = next(e for e in harness.events("evictee") if e["reason"] == "Evicted")
    assert evicted["type"] == "Warning"
    verdict = classify_pod(pod)
    assert verdict.state is RunspaceState.ERROR
    assert verdict.reason == "Evicted"
    assert harness.sim.evict("default", "nobody") is False
