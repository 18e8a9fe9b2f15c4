"""`SimCluster`: the store, the API server and the node simulation started together."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from .api.watch import WatchOptions
from .counters import RequestCounters
from .faults import Faults
from .kubeconfig import write_kubeconfig
from .server import ApiServer
from .store import DEFAULT_HISTORY_SIZE, ObjectStore
from .tls import make_serving_certificate

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["NodeSimulationLike", "SimCluster"]

log = structlog.get_logger("runspaced.sim.cluster")

# Namespaces every cluster starts with.
_INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NodeSimulationLike(Protocol):
    """What the cluster needs from the node half (`runspaced.sim.nodes.NodeSimulation`)."""

    async def run(self) -> None: ...

    def evict(self, namespace: str, name: str, message: str | None = None) -> bool: ...

    @property
    def timeline(self) -> Mapping[tuple[str, str], Mapping[str, float]]: ...


NodeFactory = Callable[..., NodeSimulationLike]


class SimCluster:
    """A simulated Kubernetes cluster serving the core/v1 API on loopback.

    Use as an async context manager; on entry the server listens, the kubeconfig is
    written and the nodes run; on exit everything stops and a kubeconfig in a temporary
    directory is removed. `time_scale` multiplies every simulated delay (0.05 makes a
    10 s image pull take 0.5 s).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        nodes: int | Sequence[Any] = 3,
        scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
        time_scale: float = 1.0,
        token: str | None = None,
        tls: bool = False,
        bookmark_interval: float = 60.0,
        history_size: int = DEFAULT_HISTORY_SIZE,
        kubeconfig_path: str | Path | None = None,
        min_request_timeout: float = 1800.0,
        node_factory: NodeFactory | None = None,
    ) -> None:
        self.store = ObjectStore(history_size=history_size)
        self.token = token or secrets.token_urlsafe(32)
        self._host = host
        self._port = port
        self._tls = tls
        self._workdir = Path(tempfile.mkdtemp(prefix="runspaced-sim-"))
        self.kubeconfig_path = (
            Path(kubeconfig_path) if kubeconfig_path else self._workdir / "kubeconfig"
        )
        self._watch_options = WatchOptions(
            bookmark_interval=bookmark_interval, min_request_timeout=min_request_timeout
        )
        self.nodes = self._make_nodes(node_factory, nodes, scenario, time_scale)
        self._server = ApiServer(
            self.store,
            token=self.token,
            host=host,
            port=port,
            watch_options=self._watch_options,
            evict=self.nodes.evict,
            timeline=lambda: self.nodes.timeline,
        )
        self._nodes_task: asyncio.Task[None] | None = None

    def _make_nodes(
        self,
        factory: NodeFactory | None,
        nodes: int | Sequence[Any],
        scenario: Scenario | str | Path | Mapping[str, Any] | None,
        time_scale: float,
    ) -> NodeSimulationLike:
        from .scenario import Scenario

        if isinstance(scenario, str | Path):
            scenario = Scenario.from_file(scenario)
        elif isinstance(scenario, Mapping):
            scenario = Scenario.from_dict(scenario)
        if factory is None:
            from .nodes import NodeSimulation

            factory = NodeSimulation
        return factory(self.store, nodes=nodes, scenario=scenario, time_scale=time_scale)

    # -- the public surface --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API server's base URL."""
        return self._server.url

    @property
    def faults(self) -> Faults:
        """Fault injection switches and actions."""
        return self._server.faults

    @property
    def requests(self) -> RequestCounters:
        """API request counts by verb and resource."""
        return self._server.requests

    @property
    def server(self) -> ApiServer:
        """The HTTP server (for restart and address details)."""
        return self._server

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Create the initial namespaces, listen, write the kubeconfig and start the nodes."""
        for name in _INITIAL_NAMESPACES:
            if self.store.get("namespaces", None, name) is None:
                self.store.create(
                    "namespaces",
                    None,
                    {
                        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    },
                )
        ca_pem: bytes | None = None
        if self._tls:
            certificate = await asyncio.to_thread(
                make_serving_certificate, self._workdir / "tls", self._host
            )
            self._server.set_ssl_context(certificate.server_context())
            ca_pem = certificate.cert_pem
        await self._server.start()
        write_kubeconfig(self.kubeconfig_path, server=self.url, token=self.token, ca_pem=ca_pem)
        self._nodes_task = asyncio.get_running_loop().create_task(self._run_nodes())
        log.info("sim.cluster.started", url=self.url, kubeconfig=str(self.kubeconfig_path))

    async def _run_nodes(self) -> None:
        try:
            await self.nodes.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sim.nodes.failed")

    async def stop(self) -> None:
        """Stop the nodes and the server and remove the temporary directory."""
        task, self._nodes_task = self._nodes_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)
        log.info("sim.cluster.stopped")

    async def __aenter__(self) -> SimCluster:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return (
            f"<SimCluster url={self.url} pods={self.store.count('pods')} "
            f"resourceVersion={self.store.resource_version}>"
        )
