"""The simulated kubelet: drives pods bound to simulated nodes through their lifecycle.

Per pod, in order, each step one status update (one MODIFIED watch event):

1. Admission: hostIP, startTime, PodReadyToStartContainers False, containers waiting
   ContainerCreating (PodInitializing when the pod has init containers).
2. Sandbox: podIP assigned, PodReadyToStartContainers True (before any image pull).
3. Init containers one after another: pull, run, exit; Initialized True when all exit 0.
4. App containers, each on its own: pull (Pulling/Pulled events), Created/Started
   events, running; Ready after the probe delay when there is a readiness or startup
   probe, at once otherwise.

Failures follow the kubelet: InvalidImageName, ErrImageNeverPull, ErrImagePull
alternating with ImagePullBackOff (back-off 10 s doubling to 300 s), and container exits
restarted per restartPolicy with CrashLoopBackOff back-off (first restart immediate,
then 10 s doubling to 300 s). Every delay is multiplied by the time scale; the back-off
durations in messages stay the nominal ones a real kubelet would print.

NOTE: image pulls run in parallel, whereas a default kubelet serializes them. A second
pull of the same image on the same node waits for the first one.
NOTE: failing startup or liveness probes never restart a container here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog

from .endpoints import EndpointListeners
from .images import format_go_duration
from .nodeinfo import NodeState
from .podstatus import ContainerRuntime, PodRuntime, merge_status
from .recorder import EventRecorder
from .reference import InvalidReference, invalid_image_message, parse_normalized_named
from .scenario import Scenario
from .store import ObjectStore, now_rfc3339
from .timeline import Timeline

__all__ = ["Kubelet"]

log = structlog.get_logger("runspaced.sim.kubelet")

# Nominal (unscaled) seconds.
SANDBOX_SECONDS = 0.1
# The kubelet retries a failed volume mount on its next pod sync, about every 2 s.
MOUNT_RETRY_SECONDS = 2.0
SYNC_SECONDS = 0.5
INIT_RUN_SECONDS = 0.2
STOP_SECONDS = 1.0
FIRST_PROBE_SECONDS = 1.0
BACKOFF_INITIAL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0

FATAL_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CrashLoopBackOff",
    }
)

PodKey = tuple[str, str]


class PodGone(Exception):
    """The pod left the store (or was replaced) while its kubelet worked on it."""


class Kubelet:
    """The kubelets of all simulated nodes (they share one event loop and store)."""

    def __init__(
        self,
        store: ObjectStore,
        nodes: dict[str, NodeState],
        recorder: EventRecorder,
        scenario: Scenario,
        listeners: EndpointListeners,
        timeline: Timeline,
        *,
        time_scale: float,
    ) -> None:
        self._store = store
        self._nodes = nodes
        self._recorder = recorder
        self._scenario = scenario
        self._listeners = listeners
        self._timeline = timeline
        self._scale = time_scale
        self.pods: dict[PodKey, PodRuntime] = {}
        self._tasks: dict[PodKey, asyncio.Task[None]] = {}
        self._terminating: set[PodKey] = set()
        self._pulls: dict[tuple[str, str], asyncio.Future[None]] = {}

    # -- entry points (called from the store listener, synchronously) --------------------

    def admit(self, pod: dict[str, Any]) -> None:
        """Start running a pod that was bound to one of the simulated nodes."""
        metadata, spec = pod["metadata"], pod.get("spec", {})
        key = (metadata["namespace"], metadata["name"])
        if key in self.pods:
            return
        node = self._nodes[spec["nodeName"]]
        with_init = bool(spec.get("initContainers"))
        runtime = PodRuntime(
            namespace=key[0],
            name=key[1],
            uid=metadata.get("uid", ""),
            node=node.name,
            restart_policy=spec.get("restartPolicy") or "Always",
            init_containers=[self._container(c, True) for c in spec.get("initContainers") or []],
            containers=[self._container(c, False) for c in spec.get("containers") or []],
            host_ip=node.host_ip,
        )
        waiting = "PodInitializing" if with_init else "ContainerCreating"
        for container in runtime.all_containers:
            container.state = {"waiting": {"reason": waiting}}
        self.pods[key] = runtime
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._run_pod(runtime), name=f"sim-kubelet-{key[0]}/{key[1]}"
        )

    def request_deletion(self, pod: dict[str, Any]) -> None:
        """Stop a pod that got metadata.deletionTimestamp, then remove it from the store."""
        metadata = pod["metadata"]
        key = (metadata["namespace"], metadata["name"])
        if key in self._terminating:
            return
        self._terminating.add(key)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        grace = metadata.get("deletionGracePeriodSeconds")
        grace_seconds = float(grace) if isinstance(grace, int | float) else 30.0
        asyncio.get_running_loop().create_task(
            self._terminate_pod(key, metadata.get("uid", ""), grace_seconds),
            name=f"sim-kubelet-stop-{key[0]}/{key[1]}",
        )

    def forget(self, key: PodKey) -> None:
        """Drop a pod that was removed from the store; stop its work quietly."""
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self._terminating.discard(key)
        runtime = self.pods.pop(key, None)
        if runtime is None:
            return
        self._close_listeners(runtime)
        if runtime.pod_ip is not None:
            self._nodes[runtime.node].network.release(runtime.pod_ip)

    def evict(self, key: PodKey, message: str) -> bool:
        """Evict a pod now: phase Failed, reason Evicted; False if the pod is not running here."""
        runtime = self.pods.get(key)
        if runtime is None or self._store.get("pods", *key) is None:
            return False
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

        self._event(runtime, "Warning", "Evicted", message)
        for container in runtime.all_containers:
            if container.running:
                self._event(
                    runtime, "Normal", "Killing", f"Stopping container {container.name}", container
                )
                # Hard eviction kills with grace period 0: SIGKILL, exit code 137.
                self._stop(container, 137, "Error")
        self._close_listeners(runtime)
        runtime.sandbox_ready = False
        runtime.forced_phase = "Failed"
        runtime.reason = "Evicted"
        runtime.message = message
        runtime.extra_conditions = [
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "TerminationByKubelet",
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        ]
        try:
            self._publish(runtime)
        except PodGone:
            return False
        log.info("sim.pod.evicted", namespace=key[0], pod=key[1], node=runtime.node)
        return True

    async def shutdown(self) -> None:
        """Cancel every pod task and close every listener."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self._listeners.close_all()

    # -- the pod lifecycle ----------------------------------------------------------------

    async def _run_pod(self, runtime: PodRuntime) -> None:
        key = runtime.key
        try:
            runtime.start_time = now_rfc3339()
            self._publish(runtime)

            # Volumes mount before the sandbox exists, so a pod waiting for a missing
            # secret or config map has no podIP yet; only FailedMount events explain it.
            while missing := self._missing_volumes(runtime):
                for volume, what in missing:
                    self._event(
                        runtime,
                        "Warning",
                        "FailedMount",
                        f'MountVolume.SetUp failed for volume "{volume}" : {what} not found',
                    )
                await self._sleep(MOUNT_RETRY_SECONDS)

            await self._sleep(SANDBOX_SECONDS)
            runtime.pod_ip = self._nodes[runtime.node].network.allocate()
            runtime.sandbox_ready = True
            self._publish(runtime)

            for container in runtime.init_containers:
                if not await self._run_container(runtime, container):
                    return
            await asyncio.gather(*(self._run_container(runtime, c) for c in runtime.containers))
        except PodGone:
            log.debug("sim.pod.vanished", namespace=key[0], pod=key[1])
        except Exception:
            log.exception("sim.pod.lifecycle_failed", namespace=key[0], pod=key[1])
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]

    def _missing_volumes(self, runtime: PodRuntime) -> list[tuple[str, str]]:
        """Return (volume, 'secret "x"') for each required secret or config map not stored."""
        pod = self._store.get("pods", runtime.namespace, runtime.name)
        if pod is None:
            raise PodGone(runtime.key)
        missing = []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            for kind, label, name_key in (
                ("secrets", "secret", "secretName"),
                ("configmaps", "configmap", "name"),
            ):
                source = volume.get(label if label == "secret" else "configMap")
                if not isinstance(source, dict) or source.get("optional"):
                    continue
                name = source.get(name_key)
                if name and self._store.get(kind, runtime.namespace, name) is None:
                    missing.append((volume.get("name", ""), f'{label} "{name}"'))
        return missing

    async def _run_container(self, runtime: PodRuntime, container: ContainerRuntime) -> bool:
        """Run one container through pulls, starts and restarts.

        Returns True when an init container exited 0, or when an app container is up
        (running, or done without a restart due); False when the container is stuck
        (image error) or failed for good.
        """
        backoff: float | None = None
        while True:
            if not await self._ensure_image(runtime, container):
                return False
            await self._start(runtime, container)
            behaviour = container.behaviour
            assert behaviour is not None
            exit_code = behaviour.exit_code
            if exit_code is None and container.is_init:
                exit_code, run_seconds = 0, INIT_RUN_SECONDS
            else:
                run_seconds = behaviour.crash_after_seconds

            probe_delay = None if container.is_init else _probe_delay(container)
            if probe_delay is not None and (exit_code is None or probe_delay < run_seconds):
                await self._sleep(probe_delay)
                self._probe(runtime, container)
                run_seconds -= probe_delay
            if exit_code is None:
                return True

            await self._sleep(max(run_seconds, 0.0))
            oom = behaviour.oom_killed and exit_code != 0
            reason = "OOMKilled" if oom else ("Completed" if exit_code == 0 else "Error")
            self._stop(container, exit_code, reason)
            self._close_listeners(runtime, container)
            self._publish(runtime)

            if container.is_init and exit_code == 0:
                return True
            if not _restarts(runtime.restart_policy, exit_code):
                return exit_code == 0
            backoff = await self._back_off(runtime, container, backoff)

    async def _back_off(
        self, runtime: PodRuntime, container: ContainerRuntime, backoff: float | None
    ) -> float:
        # The terminated state stays visible until the next sync. Then the first restart
        # is immediate and later ones wait in CrashLoopBackOff.
        terminated = container.state
        await self._sleep(SYNC_SECONDS)
        if backoff is None:
            next_backoff = BACKOFF_INITIAL_SECONDS
        else:
            pod_ref = f"{runtime.name}_{runtime.namespace}({runtime.uid})"
            container.last_state = terminated
            container.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": (
                        f"back-off {format_go_duration(backoff)} restarting failed "
                        f"container={container.name} pod={pod_ref}"
                    ),
                }
            }
            self._publish(runtime)
            self._event(
                runtime,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {container.name} in pod {pod_ref}",
                container,
            )
            await self._sleep(backoff)
            next_backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
        container.last_state = terminated
        container.restart_count += 1
        return next_backoff

    async def _ensure_image(self, runtime: PodRuntime, container: ContainerRuntime) -> bool:
        image = container.image
        if container.invalid is not None:
            message = invalid_image_message(image, container.invalid)
            self._event(runtime, "Warning", "InspectFailed", message, container)
            self._fail_waiting(runtime, container, "InvalidImageName", message)
            return False
        reference, behaviour = container.reference, container.behaviour
        assert reference is not None and behaviour is not None
        node = self._nodes[runtime.node]
        present = behaviour.preloaded or reference.canonical in node.images
        policy = container.spec.get("imagePullPolicy") or _default_pull_policy(reference.tag)

        if policy == "Never" or (policy == "IfNotPresent" and present):
            if present:
                message = f'Container image "{image}" already present on machine'
                self._event(runtime, "Normal", "Pulled", message, container)
                container.pulled = True
                return True
            message = f'Container image "{image}" is not present with pull policy of Never'
            self._event(runtime, "Warning", "ErrImageNeverPull", message, container)
            self._fail_waiting(runtime, container, "ErrImageNeverPull", message)
            return False

        backoff = BACKOFF_INITIAL_SECONDS
        while True:
            self._event(runtime, "Normal", "Pulling", f'Pulling image "{image}"', container)
            started = time.monotonic()
            # A repeated pull of a present image only checks the manifest.
            seconds = behaviour.pull_seconds * (0.1 if present else 1.0)
            await self._pull(node, reference.canonical, seconds, behaviour.pull_error is None)
            if behaviour.pull_error is None:
                elapsed = format_go_duration((time.monotonic() - started) / self._scale_or_one())
                message = (
                    f'Successfully pulled image "{image}" in {elapsed} ({elapsed} including '
                    f"waiting). Image size: {behaviour.image_size_bytes} bytes."
                )
                self._event(runtime, "Normal", "Pulled", message, container)
                container.pulled = True
                return True

            error = behaviour.pull_error
            self._event(
                runtime, "Warning", "Failed", f'Failed to pull image "{image}": {error}', container
            )
            self._fail_waiting(runtime, container, "ErrImagePull", error)
            await self._sleep(SYNC_SECONDS)
            message = f'Back-off pulling image "{image}"'
            self._event(runtime, "Normal", "BackOff", message, container)
            self._fail_waiting(runtime, container, "ImagePullBackOff", message)
            await self._sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _pull(self, node: NodeState, image: str, seconds: float, succeeds: bool) -> None:
        key = (node.name, image)
        inflight = self._pulls.get(key)
        if inflight is not None and succeeds:
            await asyncio.shield(inflight)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if succeeds:
            self._pulls[key] = future
        try:
            await self._sleep(seconds)
            if succeeds:
                node.images.add(image)
        finally:
            if not future.done():
                future.set_result(None)
            if self._pulls.get(key) is future:
                del self._pulls[key]

    async def _start(self, runtime: PodRuntime, container: ContainerRuntime) -> None:
        container.new_container_id()
        created = "Created container: " + container.name
        self._event(runtime, "Normal", "Created", created, container)
        self._event(runtime, "Normal", "Started", f"Started container {container.name}", container)
        container.state = {"running": {"startedAt": now_rfc3339()}}
        has_probe = _probe_delay(container) is not None
        if container.is_init:
            container.started = True
            container.ready = False
        else:
            container.started = not container.spec.get("startupProbe")
            container.ready = not has_probe

        behaviour = container.behaviour
        ports = _listen_ports(container)
        if (
            not container.is_init
            and ports
            and behaviour is not None
            and behaviour.endpoint_listening
        ):
            assert runtime.pod_ip is not None
            body = f"runspaced sim: {runtime.namespace}/{runtime.name} container {container.name}\n"
            container.listening = await self._listeners.open(
                (runtime.namespace, runtime.name, container.name), runtime.pod_ip, ports, body
            )
            if runtime.key not in self.pods or runtime.key in self._terminating:
                self._close_listeners(runtime, container)
                raise PodGone(runtime.key)
        self._publish(runtime)

    def _probe(self, runtime: PodRuntime, container: ContainerRuntime) -> None:
        """Run the container's first readiness (or startup) probe and apply the result."""
        for kind, label in (("startupProbe", "Startup"), ("readinessProbe", "Readiness")):
            probe = container.spec.get(kind)
            if not probe:
                continue
            failure = _probe_failure(runtime, container, probe)
            if failure is not None:
                message = f"{label} probe failed: {failure}"
                self._event(runtime, "Warning", "Unhealthy", message, container)
                self._publish(runtime)
                return
            container.started = True
        container.started = True
        container.ready = True
        self._publish(runtime)

    async def _terminate_pod(self, key: PodKey, uid: str, grace_seconds: float) -> None:
        runtime = self.pods.get(key)
        try:
            if runtime is not None:
                running = [c for c in runtime.all_containers if c.running]
                for container in running:
                    message = f"Stopping container {container.name}"
                    self._event(runtime, "Normal", "Killing", message, container)
                self._close_listeners(runtime)
            await asyncio.sleep(min(STOP_SECONDS * self._scale, grace_seconds))

            if runtime is not None:
                behaviour_exit = {
                    c.name: (c.behaviour.stop_exit_code if c.behaviour else 0) for c in running
                }
                for container in running:
                    code = behaviour_exit[container.name]
                    self._stop(container, code, "Completed" if code == 0 else "Error")
                runtime.sandbox_ready = False
                if all("terminated" in c.state for c in runtime.containers):
                    codes = [c.exit_code for c in runtime.containers]
                    runtime.forced_phase = "Succeeded" if all(c == 0 for c in codes) else "Failed"
                self._publish(runtime)

            current = self._store.get("pods", *key)
            if current is not None and current["metadata"].get("uid") == uid:
                self._store.remove("pods", *key)
        except PodGone:
            pass
        except Exception:
            log.exception("sim.pod.termination_failed", namespace=key[0], pod=key[1])
        finally:
            self._terminating.discard(key)

    # -- helpers ---------------------------------------------------------------------------

    def _container(self, spec: dict[str, Any], is_init: bool) -> ContainerRuntime:
        image = str(spec.get("image", ""))
        try:
            reference = parse_normalized_named(image)
        except InvalidReference as error:
            return ContainerRuntime(spec.get("name", ""), spec, is_init, None, error, None)
        behaviour = self._scenario.behaviour(image, reference)
        return ContainerRuntime(spec.get("name", ""), spec, is_init, reference, None, behaviour)

    def _fail_waiting(
        self, runtime: PodRuntime, container: ContainerRuntime, reason: str, message: str
    ) -> None:
        container.state = {"waiting": {"reason": reason, "message": message}}
        self._publish(runtime)
        self._event(runtime, "Warning", "Failed", f"Error: {reason}", container)

    @staticmethod
    def _stop(container: ContainerRuntime, exit_code: int, reason: str) -> None:
        started_at = container.state.get("running", {}).get("startedAt")
        container.state = {
            "terminated": {
                "containerID": container.container_id,
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": now_rfc3339(),
            }
        }
        container.ready = container.is_init and exit_code == 0
        container.started = False

    def _close_listeners(
        self, runtime: PodRuntime, container: ContainerRuntime | None = None
    ) -> None:
        targets = runtime.all_containers if container is None else [container]
        for target in targets:
            self._listeners.close((runtime.namespace, runtime.name, target.name))
            target.listening = False

    def _publish(self, runtime: PodRuntime) -> None:
        """Write the runtime's status to the store. Raises PodGone if the pod is gone."""
        rendered = runtime.render()
        uid = runtime.uid

        def apply(pod: dict[str, Any]) -> None:
            if pod["metadata"].get("uid") != uid:
                raise PodGone(runtime.key)
            merge_status(pod, rendered)

        if self._store.update("pods", runtime.namespace, runtime.name, apply) is None:
            raise PodGone(runtime.key)
        self._observe(runtime, rendered)

    def _observe(self, runtime: PodRuntime, status: dict[str, Any]) -> None:
        key = runtime.key
        phase = status["phase"]
        if phase == "Running":
            self._timeline.record(key, "running")
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        if ready["status"] == "True":
            self._timeline.record(key, "ready")
        failed = phase == "Failed"
        for container in runtime.all_containers:
            waiting = container.state.get("waiting", {}).get("reason")
            code = container.exit_code
            if waiting in FATAL_WAITING or (code is not None and code != 0):
                failed = True
            if not container.is_init and code is not None:
                failed = True
        if failed:
            self._timeline.record(key, "failed")

    def _event(
        self,
        runtime: PodRuntime,
        event_type: str,
        reason: str,
        message: str,
        container: ContainerRuntime | None = None,
    ) -> None:
        pod = self._store.get("pods", runtime.namespace, runtime.name) or {
            "metadata": {"namespace": runtime.namespace, "name": runtime.name, "uid": runtime.uid}
        }
        self._recorder.kubelet(
            pod,
            runtime.node,
            event_type,
            reason,
            message,
            container=None if container is None else container.name,
            init=container is not None and container.is_init,
        )

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self._scale)

    def _scale_or_one(self) -> float:
        return self._scale if self._scale > 0 else 1.0


def _default_pull_policy(tag: str | None) -> str:
    return "Always" if tag in (None, "latest") else "IfNotPresent"


def _restarts(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _probe_delay(container: ContainerRuntime) -> float | None:
    probes: list[dict[str, Any]] = [
        probe
        for probe in (container.spec.get("startupProbe"), container.spec.get("readinessProbe"))
        if probe
    ]
    if not probes:
        return None
    behaviour = container.behaviour
    if behaviour is not None and behaviour.readiness_delay_seconds is not None:
        return behaviour.readiness_delay_seconds
    return max(float(p.get("initialDelaySeconds") or 0) for p in probes) + FIRST_PROBE_SECONDS


def _resolve_port(container: ContainerRuntime, port: Any) -> int | None:
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for declared in container.spec.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
    return None


def _listen_ports(container: ContainerRuntime) -> list[int]:
    ports = [
        int(p["containerPort"]) for p in container.spec.get("ports") or [] if "containerPort" in p
    ]
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.spec.get(kind) or {}
        for handler in ("tcpSocket", "httpGet"):
            if handler in probe:
                port = _resolve_port(container, probe[handler].get("port"))
                if port is not None and port not in ports:
                    ports.append(port)
    return ports


def _probe_failure(
    runtime: PodRuntime, container: ContainerRuntime, probe: dict[str, Any]
) -> str | None:
    """Return the kubelet's probe error text, or None when the probe passes."""
    for handler in ("tcpSocket", "httpGet"):
        if handler not in probe:
            continue
        port = _resolve_port(container, probe[handler].get("port"))
        if container.listening and port is not None:
            return None
        address = f"{runtime.pod_ip}:{port}"
        refused = f"dial tcp {address}: connect: connection refused"
        if handler == "tcpSocket":
            return refused
        scheme = str(probe[handler].get("scheme") or "HTTP").lower()
        path = probe[handler].get("path") or "/"
        return f'Get "{scheme}://{address}{path}": {refused}'
    return None
