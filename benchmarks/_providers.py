"""The three ways of waiting for pods that `compare.py` measures, each in its own process.

Run as ``python benchmarks/_providers.py PROVIDER PLAN.json RESULT.json``. The plan
contains the kubeconfig, the namespace, one image per runspace and a deadline. Every
waiter creates one pod, waits for its outcome, records ``time.time()`` the moment it
knows, and deletes the pod. The result contains the outcomes, the CPU seconds and the
peak RSS of this process.

- ``polling``: reads its pod (GET) every 100 ms until phase Running with a pod IP,
  an error on the first container, or the deadline.
- ``watch_per_waiter``: opens its own watch on its pod (fieldSelector
  metadata.name=NAME), as ``kubectl wait`` does, and judges each event with
  `runspaced.classify_pod`.
- ``runspaced``: one `RunspaceEngine`; `create` then `wait` per runspace.

The first two use kubernetes-asyncio models (`CoreV1Api`, `Watch`), as a typical
provider does.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import quiet_logging

from runspaced._types import DEFAULT_RESOURCES

__all__ = ["PROVIDERS", "plain_pod_manifest"]

POLL_INTERVAL = 0.1
CONTAINER_PORT = 8080
# Waiting reasons of the first container that are progress, not errors.
PROGRESS_REASONS = frozenset({"ContainerCreating", "PodInitializing"})


def plain_pod_manifest(name: str, image: str) -> dict[str, Any]:
    """Return the pod a provider without runspaced creates: the same container as the engine's.

    It has the same resources, TCP readiness probe, restartPolicy and security
    settings as the engine's manifest, so every provider waits for identical pods
    that the scheduler places alike.
    """
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "bench"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "runspace",
                    "image": image,
                    "ports": [
                        {"name": "runspace", "containerPort": CONTAINER_PORT, "protocol": "TCP"}
                    ],
                    "resources": {
                        "requests": dict(DEFAULT_RESOURCES.requests),
                        "limits": dict(DEFAULT_RESOURCES.limits),
                    },
                    "readinessProbe": {
                        "tcpSocket": {"port": CONTAINER_PORT},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True,
                    },
                }
            ],
        },
    }


def _outcome(index: int, name: str, outcome: str, reason: str | None) -> dict[str, Any]:
    return {"index": index, "name": name, "outcome": outcome, "reason": reason, "at": time.time()}


async def _api_client(kubeconfig: str) -> Any:
    """Return a kubernetes-asyncio ApiClient with no connection limit.

    With the default limit of 100 connections, the 101st watch would wait for one of
    the first hundred to close. A provider that opens one watch per waiter must lift it.
    """
    from kubernetes_asyncio import config
    from kubernetes_asyncio.client import ApiClient, Configuration

    configuration = Configuration()
    await config.load_kube_config(
        config_file=kubeconfig, client_configuration=configuration, persist_config=False
    )
    configuration.connection_pool_maxsize = None  # type: ignore[assignment]
    return ApiClient(configuration=configuration)


def _first_container_error(pod: Any) -> str | None:
    """Return the reason of an error on the pod or its first container, or None."""
    status = pod.status
    if status is None:
        return None
    if status.phase == "Failed":
        return status.reason or "Failed"
    statuses = status.container_statuses or []
    if not statuses or statuses[0].state is None:
        return None
    state = statuses[0].state
    if state.waiting is not None and state.waiting.reason not in PROGRESS_REASONS:
        return state.waiting.reason or "Waiting"
    if state.terminated is not None:
        return state.terminated.reason or "Terminated"
    return None


async def run_polling(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Wait for every runspace by reading its pod every 100 ms."""
    from kubernetes_asyncio.client import CoreV1Api

    namespace = plan["namespace"]
    async with await _api_client(plan["kubeconfig"]) as api_client:
        core = CoreV1Api(api_client)

        async def waiter(index: int, image: str) -> dict[str, Any]:
            name = f"poll-{index:05d}"
            # kubernetes-asyncio serializes a dict body as it is; its stubs ask for V1Pod.
            manifest: Any = plain_pod_manifest(name, image)
            await core.create_namespaced_pod(namespace, manifest)
            deadline = time.monotonic() + plan["deadline_s"]
            try:
                while time.monotonic() < deadline:
                    pod = await core.read_namespaced_pod(name, namespace)
                    status = pod.status
                    if status is not None and status.phase == "Running" and status.pod_ip:
                        return _outcome(index, name, "ready", None)
                    reason = _first_container_error(pod)
                    if reason is not None:
                        return _outcome(index, name, "error", reason)
                    await asyncio.sleep(POLL_INTERVAL)
                return _outcome(index, name, "timeout", None)
            finally:
                await core.delete_namespaced_pod(name, namespace)

        return await _gather(waiter, plan["images"])


async def run_watch_per_waiter(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Wait for every runspace with its own watch, judged by `classify_pod`."""
    from kubernetes_asyncio.client import CoreV1Api
    from kubernetes_asyncio.watch import Watch

    from runspaced import RunspaceState, classify_pod

    namespace = plan["namespace"]
    async with await _api_client(plan["kubeconfig"]) as api_client:
        core = CoreV1Api(api_client)

        async def waiter(index: int, image: str) -> dict[str, Any]:
            name = f"watch-{index:05d}"
            # kubernetes-asyncio serializes a dict body as it is; its stubs ask for V1Pod.
            manifest: Any = plain_pod_manifest(name, image)
            await core.create_namespaced_pod(namespace, manifest)
            watch = Watch()
            try:
                async with asyncio.timeout(plan["deadline_s"]):
                    async for event in watch.stream(
                        core.list_namespaced_pod,
                        namespace,
                        field_selector=f"metadata.name={name}",
                        timeout_seconds=int(plan["deadline_s"]) + 60,
                    ):
                        pod = api_client.sanitize_for_serialization(event["object"])
                        verdict = classify_pod(pod)
                        if verdict.state is RunspaceState.READY:
                            return _outcome(index, name, "ready", None)
                        if verdict.state is RunspaceState.ERROR:
                            return _outcome(index, name, "error", verdict.reason)
                return _outcome(index, name, "timeout", "WatchEnded")
            except TimeoutError:
                return _outcome(index, name, "timeout", None)
            finally:
                watch.stop()
                await watch.close()
                await core.delete_namespaced_pod(name, namespace)

        return await _gather(waiter, plan["images"])


async def run_runspaced(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Wait for every runspace through one engine: `create`, then `wait`."""
    from runspaced import RunspaceEngine, RunspaceFailed, RunspaceSpec, RunspaceTimeout

    engine = RunspaceEngine.from_kubeconfig(
        path=plan["kubeconfig"],
        namespace=plan["namespace"],
        creation_timeout=plan["deadline_s"],
    )
    async with engine:
        await engine.wait_synced(timeout=60)

        async def waiter(index: int, image: str) -> dict[str, Any]:
            info = await engine.create(RunspaceSpec(image=image, port=CONTAINER_PORT))
            try:
                await engine.wait(info.id)
                return _outcome(index, info.id, "ready", None)
            except RunspaceTimeout as error:
                return _outcome(index, info.id, "timeout", error.reason)
            except RunspaceFailed as error:
                return _outcome(index, info.id, "error", error.reason)
            finally:
                await engine.delete(info.id)

        outcomes = await _gather(waiter, plan["images"])
        # Closing the engine cancels delete requests still in flight; let them finish.
        # The engine offers no event for "no deletes pending", so this polls its set.
        deadline = time.monotonic() + 60
        while engine._pending_deletes and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return outcomes


async def _gather(
    waiter: Callable[[int, str], Awaitable[dict[str, Any]]], images: list[str]
) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(waiter(i, image) for i, image in enumerate(images))))


PROVIDERS: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, list[dict[str, Any]]]]] = {
    "polling": run_polling,
    "watch_per_waiter": run_watch_per_waiter,
    "runspaced": run_runspaced,
}


def main(argv: list[str]) -> int:
    provider, plan_path, result_path = argv
    quiet_logging()
    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    cpu_started = time.process_time()
    wall_started = time.monotonic()
    outcomes = asyncio.run(PROVIDERS[provider](plan))
    result = {
        "provider": provider,
        "outcomes": outcomes,
        "cpu_seconds": round(time.process_time() - cpu_started, 3),
        "wall_seconds": round(time.monotonic() - wall_started, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
