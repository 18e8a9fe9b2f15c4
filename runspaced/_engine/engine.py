"""`RunspaceEngine`: one shared pod watch, a state machine per runspace, awaitable outcomes."""

from __future__ import annotations

import builtins
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import anyio
import structlog

from .._errors import (
    EngineClosed,
    RunspaceApiError,
    RunspaceNotFound,
    RunspaceTimeout,
)
from .._kube.backoff import Backoff
from .._kube.config import load_api_client
from .._kube.manifest import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    build_pod_manifest,
    new_create_token,
    new_runspace_id,
    validate_spec,
)
from .._kube.pods import PodClient
from .._kube.transport import KubeTransport
from .._kube.watch import ResourceWatch
from .._state.machine import (
    DeletePod,
    Effect,
    Policy,
    Runspace,
    VerifyEndpoint,
    apply_deadlines,
    apply_delete_requested,
    apply_pod,
    apply_pod_gone,
    apply_verification,
    next_deadline,
)
from .._state.records import EventRecord, PodRecord
from .._types import RunspaceChange, RunspaceInfo, RunspaceSpec, RunspaceState
from .actions import check_endpoint, delete_pod_until_done
from .changes import ChangeHub, ChangeStream
from .creation import CreateAttempt, send_create
from .feeds import event_watch, pod_watch
from .outcomes import outcome_of
from .registry import adopted_runspace, new_runspace
from .settings import EngineHealth, EngineSettings
from .timers import TimerQueue

__all__ = ["RunspaceEngine"]

log = structlog.get_logger("runspaced.engine")

_Transition = Callable[[Runspace, float, datetime], list[Effect]]


class RunspaceEngine:
    """Create runspaces and resolve waiters from one shared pod watch.

    Use as an async context manager: entering starts the watch (and the Event watch
    when `watch_events` is on), leaving stops them, fails pending waiters with
    `EngineClosed` and ends `changes()` iterators. Pods stay in the cluster when the
    engine closes; an engine started later adopts them by their labels.

    `api_client` is a kubernetes-asyncio `ApiClient`. The engine closes it on exit
    only when it created the client itself (`from_kubeconfig`).
    """

    def __init__(
        self,
        api_client: Any = None,
        *,
        namespace: str | None = None,
        **settings: Any,
    ) -> None:
        if namespace is not None:
            settings["namespace"] = namespace
        self.settings = EngineSettings.from_keywords(**settings)
        self._api_client = api_client
        self._client_factory: Callable[[], Any] | None = None
        self._owns_client = False
        self._policy = Policy(
            delete_on_failure=self.settings.delete_on_failure,
            image_pull_grace=self.settings.image_pull_grace,
            verify_endpoint=self.settings.verify_endpoint,
        )
        self._runspaces: dict[str, Runspace] = {}
        self._resolved: dict[str, anyio.Event] = {}
        self._hub = ChangeHub(self.settings.changes_buffer)
        self._timers = TimerQueue(self._on_timer)
        self._synced = anyio.Event()
        self._closed = False
        self._started = False
        self._waiters = 0
        self._task_group: anyio.abc.TaskGroup | None = None
        self._transport: KubeTransport | None = None
        self._pods: PodClient | None = None
        self._pod_watch: ResourceWatch[PodRecord] | None = None
        self._event_watch: ResourceWatch[EventRecord] | None = None
        self._pending_deletes: set[str] = set()
        self._creating: set[str] = set()
        self._deletes_drained = anyio.Event()
        self._scopes: set[anyio.CancelScope] = set()
        self._log = log.bind(namespace=self.settings.namespace)

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
        **settings: Any,
    ) -> RunspaceEngine:
        """Return an engine that loads its client when entered.

        `path` defaults to $KUBECONFIG or ~/.kube/config. When no kubeconfig file
        exists, the in-cluster service account is used. `namespace` defaults to the
        context's namespace, then "default".
        """
        engine = cls(None, **settings)
        engine._client_factory = lambda: (path, context, namespace)
        engine._owns_client = True
        return engine

    async def _load_client(self) -> None:
        assert self._client_factory is not None
        path, context, namespace = self._client_factory()
        loaded = await load_api_client(path, context)
        self._api_client = loaded.api_client
        namespace = namespace or loaded.namespace
        if namespace and namespace != self.settings.namespace:
            self.settings = dataclasses.replace(self.settings, namespace=namespace)
            self._log = log.bind(namespace=self.settings.namespace)
        self._log.info("engine.client_loaded", source=loaded.source)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def label_selector(self) -> str:
        """The selector of the shared watch: exactly this engine's pods."""
        parts = [f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"]
        parts += [f"{key}={value}" for key, value in self.settings.extra_labels]
        return ",".join(parts)

    # -- lifecycle ----------------------------------------------------------------

    async def __aenter__(self) -> RunspaceEngine:
        if self._started:
            raise RuntimeError("a RunspaceEngine can be entered only once")
        self._started = True
        if self._api_client is None:
            if self._client_factory is None:
                raise ValueError("RunspaceEngine needs an ApiClient or from_kubeconfig()")
            await self._load_client()
        self._transport = KubeTransport(self._api_client)
        self._pods = PodClient(self._transport, self.namespace)
        self._pod_watch = pod_watch(self, self._transport)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._spawn(self._pod_watch.run)
        self._spawn(self._timers.run)
        if self.settings.watch_events:
            self._event_watch = event_watch(self, self._transport)
            self._spawn(self._run_event_watch, self._event_watch)
        self._log.info("engine.started", label_selector=self.label_selector)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
        task_group, self._task_group = self._task_group, None
        if task_group is not None:
            await task_group.__aexit__(None, None, None)
        if self._owns_client and self._transport is not None:
            with anyio.CancelScope(shield=True):
                await self._transport.close()
        self._log.info("engine.closed", runspaces=len(self._runspaces))

    async def aclose(self) -> None:
        """Stop the watches, fail pending waiters with EngineClosed and end `changes()`.

        Safe to call from any task; leaving the ``async with`` block waits for the
        background tasks to finish.
        """
        if self._closed:
            return
        self._closed = True
        for event in self._resolved.values():
            event.set()
        self._resolved.clear()
        self._hub.close()

        # Let pod deletions in flight finish, within a bound, so closing leaks no pod.
        if self._pending_deletes:
            self._deletes_drained = anyio.Event()
            with anyio.move_on_after(self.settings.close_timeout, shield=True):
                await self._deletes_drained.wait()
        if self._pending_deletes:
            self._log.warning(
                "engine.closed_with_pending_deletes", pods=sorted(self._pending_deletes)
            )
        # Cancel each background task's own scope, not the task group's: the caller's
        # ``async with`` body runs inside the task group and must not be cancelled.
        for scope in list(self._scopes):
            scope.cancel()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until the first pod list completed; raise TimeoutError after `timeout` seconds."""
        self._check_open()
        with anyio.fail_after(timeout):
            await self._synced.wait()

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosed()
        if not self._started:
            raise RuntimeError("enter the engine first: async with RunspaceEngine(...) as engine")

    # -- public API ---------------------------------------------------------------

    async def create(self, spec: RunspaceSpec) -> RunspaceInfo:
        """Create a runspace and return its snapshot at once (state CREATING).

        Raises ValueError naming the field for invalid input, before any request.
        Raises RunspaceApiError when the API server rejects the pod (403, 404 for a
        missing namespace, 422) or keeps failing (5xx, 429, no connection) past
        `create_retry_timeout`. A name collision (409) retries with a new id.
        If the caller is cancelled mid-request, the pod, should it exist, is deleted.
        """
        self._check_open()
        validate_spec(spec)
        assert self._pods is not None
        backoff = Backoff(self.settings.backoff_base, self.settings.backoff_cap)
        retry_until = time.monotonic() + min(
            self.settings.create_retry_timeout,
            spec.creation_timeout or self.settings.creation_timeout,
        )
        runspace = self._register(spec)
        self._creating.add(runspace.id)
        attempt = CreateAttempt(runspace.id, new_create_token())

        def build_manifest(runspace_id: str) -> dict[str, Any]:
            return build_pod_manifest(
                spec,
                runspace_id=runspace_id,
                namespace=self.namespace,
                create_token=attempt.token,
                run_as_user=self.settings.run_as_user,
                readiness_probe=self.settings.readiness_probe,
                extra_labels=dict(self.settings.extra_labels),
            )

        def renew_id(old_id: str) -> str:
            self._creating.discard(old_id)
            self._forget(old_id)
            renewed = self._register(spec)
            self._creating.add(renewed.id)
            return renewed.id

        try:
            await send_create(
                self._pods,
                attempt,
                build_manifest=build_manifest,
                renew_id=renew_id,
                retry_until=retry_until,
                backoff=backoff,
            )
        except BaseException as error:
            self._creating.discard(attempt.runspace_id)
            current = self._runspaces.get(attempt.runspace_id)
            if current is not None:
                self._abandon(current, sent=attempt.sent, error=error)
            raise
        self._creating.discard(attempt.runspace_id)
        runspace = self._runspaces[attempt.runspace_id]

        runspace.create_confirmed_at = time.monotonic()
        self._log.info(
            "runspace.created", runspace_id=runspace.id, pod=runspace.id, image=spec.image
        )
        if runspace.delete_requested and not runspace.pod_gone:
            self._run_effects(runspace, [DeletePod(runspace.id)])
        return runspace.snapshot()

    async def wait(self, runspace_id: str, timeout: float | None = None) -> RunspaceInfo:
        """Wait until the runspace leaves CREATING; return it when READY.

        Raises RunspaceFailed when the runspace ends in error, terminating or deleted,
        with `.reason`, `.message` and `.info`. Raises RunspaceTimeout when the
        creation deadline passed (reason CreationTimeout), or when this call's own
        `timeout` in seconds ran out (reason WaitTimeout, and the runspace is left as
        it is). Raises RunspaceNotFound for an unknown id and EngineClosed when the
        engine closes first. Cancelling a waiter changes nothing for the runspace or
        other waiters.
        """
        self._check_open()
        runspace = self._runspaces.get(runspace_id)
        if runspace is None:
            raise RunspaceNotFound(runspace_id)
        if runspace.state is RunspaceState.CREATING:
            event = self._resolved.get(runspace_id)
            if event is None:
                event = self._resolved[runspace_id] = anyio.Event()
            self._waiters += 1
            try:
                with anyio.move_on_after(timeout) as scope:
                    await event.wait()
            finally:
                self._waiters -= 1
            if scope.cancelled_caught:
                info = runspace.snapshot()
                raise RunspaceTimeout(
                    runspace_id,
                    "WaitTimeout",
                    f"still {info.phase.value} after waiting {timeout:g} s",
                    info,
                    phase=info.phase,
                    timeout_s=timeout,
                )
        return outcome_of(runspace)

    async def create_and_wait(
        self, spec: RunspaceSpec, timeout: float | None = None
    ) -> RunspaceInfo:
        """Create a runspace and wait for it; see `create` and `wait` for errors."""
        info = await self.create(spec)
        return await self.wait(info.id, timeout=timeout)

    def get(self, runspace_id: str) -> RunspaceInfo | None:
        """Return the cached snapshot, or None. Sends no request."""
        runspace = self._runspaces.get(runspace_id)
        return runspace.snapshot() if runspace is not None else None

    def list(
        self,
        state: RunspaceState | str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[RunspaceInfo]:
        """Return cached snapshots, oldest first, filtered by state and label equality."""
        wanted = RunspaceState(state) if state is not None else None
        result = []
        for runspace in self._runspaces.values():
            if wanted is not None and runspace.state is not wanted:
                continue
            if labels and any(runspace.labels.get(k) != v for k, v in labels.items()):
                continue
            result.append(runspace.snapshot())
        return result

    async def delete(self, runspace_id: str) -> RunspaceInfo | None:
        """Delete the runspace's pod; idempotent. Return the snapshot, or None when unknown.

        The state becomes TERMINATING at once and DELETED when the watch reports the
        pod gone. The request is retried with back-off in the background until it
        succeeds, so an API outage does not leak the pod.
        """
        self._check_open()
        runspace = self._runspaces.get(runspace_id)
        if runspace is None:
            return None
        self._transition(runspace, apply_delete_requested, time.monotonic())
        return runspace.snapshot()

    def changes(self) -> ChangeStream:
        """Subscribe to every state, phase and detail change from now on."""
        return self._hub.open()

    def health(self) -> EngineHealth:
        """Return the shared watch's health."""
        pod_stats = self._pod_watch.stats if self._pod_watch is not None else None
        event_stats = self._event_watch.stats if self._event_watch is not None else None
        return EngineHealth.from_stats(pod_stats, event_stats)

    def statistics(self) -> dict[str, Any]:
        """Return counts for introspection: runspaces by state, waiters, subscribers, timers."""
        by_state = {state.value: 0 for state in RunspaceState}
        for runspace in self._runspaces.values():
            by_state[runspace.state.value] += 1
        return {
            "runspaces": len(self._runspaces),
            "by_state": by_state,
            "waiters": self._waiters,
            "subscribers": len(self._hub._streams),
            "timers": len(self._timers),
            "pending_deletes": len(self._pending_deletes),
            "changes_published": self._hub.sequence,
        }

    def __repr__(self) -> str:
        stats = self.statistics()
        states = ", ".join(f"{k}={v}" for k, v in stats["by_state"].items() if v)
        return (
            f"<RunspaceEngine namespace={self.namespace!r} runspaces={stats['runspaces']}"
            f" ({states or 'none'}) waiters={stats['waiters']} closed={self._closed}>"
        )

    # -- internals ----------------------------------------------------------------

    def _register(self, spec: RunspaceSpec) -> Runspace:
        """Track a new runspace before its create request is sent, so no early event is lost."""
        while True:
            runspace_id = new_runspace_id(self.settings.id_prefix)
            if runspace_id not in self._runspaces:
                break
        runspace = new_runspace(
            spec, runspace_id, self.settings, now=time.monotonic(), wall=datetime.now(UTC)
        )
        self._runspaces[runspace_id] = runspace
        self._timers.schedule(runspace.creation_deadline, "deadline", runspace_id)
        self._publish(runspace, None)
        return runspace

    def _adopt(self, record: PodRecord) -> Runspace:
        """Track a pod with our labels that this engine did not create (e.g. after a restart)."""
        runspace = adopted_runspace(
            record, self.settings, now=time.monotonic(), wall=datetime.now(UTC)
        )
        self._runspaces[runspace.id] = runspace
        self._timers.schedule(runspace.creation_deadline, "deadline", runspace.id)
        self._log.info(
            "runspace.adopted",
            runspace_id=runspace.id,
            pod=record.name,
            resource_version=record.resource_version,
        )
        self._publish(runspace, None)
        return runspace

    def _forget(self, runspace_id: str) -> None:
        self._runspaces.pop(runspace_id, None)
        event = self._resolved.pop(runspace_id, None)
        if event is not None:
            event.set()

    def _abandon(self, runspace: Runspace, *, sent: bool, error: BaseException) -> None:
        """Clean up after a create that failed or was cancelled.

        A rejection (4xx other than 429) created no pod, and after a 409 the name
        belongs to a pod that is not ours: forget the runspace and delete nothing.
        Otherwise the request may have reached the server, so the pod is deleted.
        """
        if isinstance(error, RunspaceApiError) and _is_rejection(error.status):
            self._log.info(
                "runspace.create_rejected",
                runspace_id=runspace.id,
                status=error.status,
                reason=error.reason,
            )
            self._forget(runspace.id)
            return
        self._log.warning("runspace.create_abandoned", runspace_id=runspace.id, error=repr(error))
        if sent and not self._closed:
            # The request may have reached the server: delete whatever it created.
            self._transition(runspace, apply_delete_requested, time.monotonic())
        else:
            self._forget(runspace.id)

    def _previous_snapshot(self, runspace: Runspace) -> RunspaceInfo | None:
        return runspace.snapshot() if self._hub.has_subscribers else None

    def _apply_record(self, runspace: Runspace, record: PodRecord) -> None:
        previous = self._previous_snapshot(runspace)
        version = runspace.version
        state = runspace.state
        now = time.monotonic()
        effects = apply_pod(runspace, record, now, datetime.now(UTC), self._policy)
        self._after_transition(runspace, previous, version, state, effects, now)

    def _transition(self, runspace: Runspace, transition: _Transition, now: float) -> None:
        previous = self._previous_snapshot(runspace)
        version = runspace.version
        state = runspace.state
        effects = transition(runspace, now, datetime.now(UTC))
        self._after_transition(runspace, previous, version, state, effects, now)

    def _after_transition(
        self,
        runspace: Runspace,
        previous: RunspaceInfo | None,
        version: int,
        state: RunspaceState,
        effects: builtins.list[Effect],
        now: float,
    ) -> None:
        if runspace.version != version:
            self._publish(runspace, previous)
        if runspace.state is not state:
            self._log.info(
                "runspace.state_changed",
                runspace_id=runspace.id,
                pod=runspace.id,
                resource_version=runspace.resource_version,
                previous=state.value,
                state=runspace.state.value,
                phase=runspace.phase.value,
                reason=runspace.reason,
                elapsed_s=round(now - runspace.created_mono, 3),
            )
            if runspace.state is not RunspaceState.CREATING:
                event = self._resolved.pop(runspace.id, None)
                if event is not None:
                    event.set()
        deadline = next_deadline(runspace, self._policy)
        if deadline is not None and deadline != runspace.creation_deadline:
            self._timers.schedule(deadline, "deadline", runspace.id)
        if runspace.pod_gone and runspace.state in (
            RunspaceState.ERROR,
            RunspaceState.TIMEOUT,
            RunspaceState.DELETED,
        ):
            self._timers.schedule(now + self.settings.retention, "forget", runspace.id)
        self._run_effects(runspace, effects)

    def _publish(self, runspace: Runspace, previous: RunspaceInfo | None) -> None:
        if not self._hub.has_subscribers:
            self._hub.next_sequence()
            return
        change = RunspaceChange(runspace.snapshot(), previous, self._hub.next_sequence())
        self._hub.publish(change)

    def _run_effects(self, runspace: Runspace, effects: builtins.list[Effect]) -> None:
        if not effects or self._task_group is None:
            return
        for effect in effects:
            if isinstance(effect, DeletePod):
                if effect.pod_name not in self._pending_deletes:
                    self._pending_deletes.add(effect.pod_name)
                    self._spawn(self._delete_pod, runspace.id)
            elif isinstance(effect, VerifyEndpoint):
                self._spawn(self._verify_endpoint, runspace.id, effect)

    async def _run_event_watch(self, watch: ResourceWatch[EventRecord]) -> None:
        """Run the advisory Event watch once the pods are synced.

        Listing a namespace's Events can take longer than listing its pods, and both
        share the API server; starting after the pod list keeps restarts fast.
        """
        await self._synced.wait()
        await watch.run()

    def _spawn(self, function: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start a background task that `aclose()` can cancel on its own."""
        assert self._task_group is not None
        scope = anyio.CancelScope()
        if self._closed:
            scope.cancel()
        self._scopes.add(scope)

        async def run() -> None:
            try:
                with scope:
                    await function(*args)
            finally:
                self._scopes.discard(scope)

        self._task_group.start_soon(run)

    async def _delete_pod(self, runspace_id: str) -> None:
        assert self._pods is not None
        backoff = Backoff(self.settings.backoff_base, self.settings.backoff_cap)
        try:
            found = await delete_pod_until_done(
                self._pods, runspace_id, self.settings.delete_grace_period, backoff
            )
            runspace = self._runspaces.get(runspace_id)
            if not found and runspace is not None and runspace_id not in self._creating:
                self._transition(runspace, apply_pod_gone, time.monotonic())
        finally:
            self._pending_deletes.discard(runspace_id)
            if not self._pending_deletes:
                self._deletes_drained.set()

    async def _verify_endpoint(self, runspace_id: str, effect: VerifyEndpoint) -> None:
        ok, message = await check_endpoint(effect.endpoint, self.settings.verify_timeout)
        runspace = self._runspaces.get(runspace_id)
        if runspace is None:
            return
        if not ok:
            log.warning(
                "runspace.endpoint_unreachable",
                runspace_id=runspace_id,
                pod=runspace_id,
                endpoint=str(effect.endpoint),
                error=message,
            )
        policy = self._policy

        def verified(target: Runspace, now: float, wall: datetime) -> builtins.list[Effect]:
            return apply_verification(target, ok, message, now, wall, policy)

        self._transition(runspace, verified, time.monotonic())

    def _on_timer(self, kind: str, runspace_id: str) -> None:
        runspace = self._runspaces.get(runspace_id)
        if runspace is None:
            return
        now = time.monotonic()
        if kind == "forget":
            if runspace.finished_at is not None and runspace.pod_gone:
                self._forget(runspace_id)
            return
        policy = self._policy

        def deadlines(target: Runspace, now: float, wall: datetime) -> builtins.list[Effect]:
            return apply_deadlines(target, now, wall, policy)

        self._transition(runspace, deadlines, now)

    def _on_pods_synced(self) -> None:
        self._synced.set()


def _is_rejection(status: int) -> bool:
    """True for a 4xx status that retrying cannot fix (every 4xx but 429)."""
    return 400 <= status < 500 and status != 429
