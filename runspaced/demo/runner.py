"""The demo run: a simulated cluster, an engine on it, a mixed workload, cleanup and checks.

Steps, in order:

1. Start `SimCluster` in this process and an engine from its kubeconfig.
2. Subscribe to `engine.changes()` BEFORE the first create, so the view and the
   deletion tracking see every transition.
3. Create every runspace at once, wait for each outcome and send ``GET /`` to each
   READY endpoint.
4. Delete every runspace and wait until the engine reports each one DELETED.
5. Read the simulator's request counters, THEN list the pods through the API (so the
   demo's own list is not counted as the engine's) and report any pod left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import structlog

from .. import (
    RunspaceApiError,
    RunspaceChange,
    RunspaceEngine,
    RunspaceError,
    RunspaceInfo,
    RunspaceState,
)
from .._engine.changes import ChangeStream
from .live import View
from .outcomes import DemoResult, Outcome
from .probe import probe_endpoint
from .workload import Case

if TYPE_CHECKING:
    from ..sim.scenario import Scenario

__all__ = ["DemoOptions", "run_demo"]

log = structlog.get_logger("runspaced.demo")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """Settings of one demo run. Durations are in seconds.

    `time_scale` multiplies the simulator's delays (pulls, starts, back-offs).
    `scenario` overrides image behaviour: a loaded `Scenario` or a YAML file.
    `deadline` bounds the creates and waits, and `delete_timeout` the wait for the
    deletions; what is unfinished then is reported as a problem. `creation_timeout` is
    the engine's per-runspace limit.
    """

    cases: tuple[Case, ...]
    time_scale: float = 0.5
    scenario: Scenario | Path | None = None
    deadline: float = 20.0
    creation_timeout: float = 15.0
    delete_timeout: float = 5.0
    namespace: str = "default"


class _Tracker:
    """Latest snapshot per runspace from the change stream, with a signal per DELETED id."""

    def __init__(self, view: View) -> None:
        self._view = view
        self.latest: dict[str, RunspaceInfo] = {}
        self._deleted: dict[str, anyio.Event] = {}

    def deleted_event(self, runspace_id: str) -> anyio.Event:
        return self._deleted.setdefault(runspace_id, anyio.Event())

    async def consume(self, stream: ChangeStream) -> None:
        async with stream:
            async for change in stream:
                self._take(change)

    def _take(self, change: RunspaceChange) -> None:
        info = change.info
        self.latest[info.id] = info
        self._view.update(change)
        if info.state is RunspaceState.DELETED:
            self.deleted_event(info.id).set()


async def run_demo(options: DemoOptions, view: View) -> DemoResult:
    """Run the demo once and return what it measured; never raises for runspace failures.

    Runspaces still without an outcome when `options.deadline` passes are reported
    as problems, and deleted like the rest. Unexpected errors of the simulator or
    the engine propagate.
    """
    from ..sim import SimCluster

    result = DemoResult(time_scale=options.time_scale)
    result.outcomes = [Outcome(case, None, None, None, None, None) for case in options.cases]
    started = time.monotonic()
    view.stage("starting the simulated cluster and the engine")

    async with SimCluster(time_scale=options.time_scale, scenario=options.scenario) as cluster:
        cluster.requests.reset()
        engine = RunspaceEngine.from_kubeconfig(
            path=cluster.kubeconfig_path,
            namespace=options.namespace,
            creation_timeout=options.creation_timeout,
            id_prefix="demo-",
        )
        async with engine, anyio.create_task_group() as tasks:
            tracker = _Tracker(view)
            tasks.start_soon(view.run)
            await engine.wait_synced(timeout=10)
            tasks.start_soon(tracker.consume, engine.changes())

            view.stage(f"creating {len(options.cases)} runspaces")
            with anyio.move_on_after(options.deadline) as scope:
                async with anyio.create_task_group() as group:
                    for outcome in result.outcomes:
                        group.start_soon(_run_case, engine, outcome, view)
            if scope.cancelled_caught:
                _mark_unfinished(result, tracker, options.deadline)

            view.stage("deleting every runspace")
            await _delete_all(engine, tracker, result, options.delete_timeout)

            result.api_requests = cluster.requests.total
            result.requests_by_verb = cluster.requests.by_verb()
            view.stage("listing pods through the API")
            result.leaked_pods = await _list_pods(cluster.kubeconfig_path, engine.namespace)
            view.stage("done")
            tasks.cancel_scope.cancel()

    result.wall_seconds = time.monotonic() - started
    return result


async def _run_case(engine: RunspaceEngine, outcome: Outcome, view: View) -> None:
    """Create one runspace, wait for its outcome and probe it when READY; fills `outcome`."""
    spec = outcome.case.spec
    try:
        created = await engine.create(spec)
    except RunspaceApiError as error:
        log.warning("demo.create_rejected", image=spec.image, error=str(error))
        outcome.reason = error.reason
        outcome.message = error.message
        return
    outcome.runspace_id = created.id

    try:
        info = await engine.wait(created.id)
    except RunspaceError as error:
        failed = error.info or engine.get(created.id) or created
        outcome.info = failed
        outcome.state = failed.state
        outcome.reason = error.reason
        outcome.message = error.message
        return

    outcome.info = info
    outcome.state = info.state
    if info.endpoint is not None:
        outcome.probe = await probe_endpoint(info.endpoint)
        view.probed(created.id, outcome.probe)


def _mark_unfinished(result: DemoResult, tracker: _Tracker, deadline: float) -> None:
    """Record the deadline and the last known snapshot of each runspace without an outcome."""
    result.errors.append(f"the demo did not finish within {deadline:g} s")
    for outcome in result.outcomes:
        if outcome.state is not None:
            continue
        outcome.reason = "DemoDeadline"
        outcome.message = f"no outcome within {deadline:g} s"
        if outcome.runspace_id is not None:
            outcome.info = tracker.latest.get(outcome.runspace_id)
            outcome.state = outcome.info.state if outcome.info is not None else None


async def _delete_all(
    engine: RunspaceEngine, tracker: _Tracker, result: DemoResult, timeout: float
) -> None:
    """Delete every created runspace and wait up to `timeout` seconds for each to be DELETED."""
    created = [o.runspace_id for o in result.outcomes if o.runspace_id is not None]
    for runspace_id in created:
        await engine.delete(runspace_id)

    with anyio.move_on_after(timeout):
        for runspace_id in created:
            info = engine.get(runspace_id)
            if info is None or info.state is not RunspaceState.DELETED:
                await tracker.deleted_event(runspace_id).wait()

    for outcome in result.outcomes:
        if outcome.runspace_id is None:
            continue
        info = engine.get(outcome.runspace_id) or tracker.latest.get(outcome.runspace_id)
        outcome.final_state = info.state if info is not None else None


async def _list_pods(kubeconfig: Path, namespace: str) -> list[str]:
    """Return the names of the pods left in `namespace`, listed through the API."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration, persist_config=False
    )
    async with client.ApiClient(configuration) as api:
        pods = await client.CoreV1Api(api).list_namespaced_pod(namespace)
    return sorted(pod.metadata.name for pod in pods.items)
