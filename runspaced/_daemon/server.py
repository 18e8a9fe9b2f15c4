"""Running the daemon: bind the socket, start the cluster connection, serve, drain on SIGTERM.

`Daemon.serve` owns the whole lifetime. In order: bind the listening socket, start the
simulated cluster (``--simulate`` only), enter the engine and the background tasks, run
uvicorn. On SIGTERM or SIGINT it stops accepting connections, makes pending waits
return and event streams end, lets in-flight requests finish within ``shutdown_timeout`` seconds,
closes the watch and returns, so the process exits 0. Pods stay in the cluster; the next
daemon adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Generator
from typing import Any

import structlog
import uvicorn

from .._engine import RunspaceEngine
from .app import create_app
from .config import DaemonConfig
from .context import DaemonContext

__all__ = ["Daemon", "bind_socket"]

log = structlog.get_logger("runspaced.daemon")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket on host:port (port 0 picks a free one).

    Raises OSError when the address cannot be bound.
    """
    host = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _UvicornServer(uvicorn.Server):
    """uvicorn server whose signals are handled by the Daemon, and that reports startup."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn would re-raise the captured SIGTERM after draining, which kills the
        # process with status -15; the Daemon installs its own handlers instead.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


class Daemon:
    """One daemon process: cluster connection, engine, HTTP server."""

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.context: DaemonContext | None = None
        self.url: str | None = None
        self._server: _UvicornServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = False
        self.started = threading.Event()

    def request_shutdown(self) -> None:
        """Begin a graceful shutdown; callable from any thread and from signal handlers."""
        loop = self._loop
        if loop is None:
            self._stop = True
            return
        loop.call_soon_threadsafe(self._shutdown)

    def _shutdown(self) -> None:
        self._stop = True
        if self.context is not None:
            self.context.begin_shutdown()
        server = self._server
        if server is not None:
            # A second signal skips the drain, as with uvicorn's own handling.
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    @contextlib.contextmanager
    def _signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        assert self._loop is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("daemon.signal_received", signal=sig.name)
        self._shutdown()

    async def serve(self, sock: socket.socket | None = None) -> None:
        """Serve until a shutdown is requested; `sock` is a bound socket to use instead of binding.

        Raises OSError when the listen address cannot be bound, and whatever the engine
        raises when it cannot load the kubeconfig.
        """
        self._loop = asyncio.get_running_loop()
        config = self.config
        sock = sock or bind_socket(config.listen_host, config.listen_port)
        host, port = sock.getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

        with self._signals(), sock:
            async with contextlib.AsyncExitStack() as stack:
                kubeconfig = config.kubeconfig
                if config.simulate:
                    kubeconfig = await self._start_simulation(stack)

                settings: dict[str, Any] = dict(config.engine)
                engine = RunspaceEngine.from_kubeconfig(
                    path=kubeconfig, context=config.context, namespace=config.namespace, **settings
                )
                app = create_app(engine, config)
                self.context = app.state.daemon
                await stack.enter_async_context(self.context.run())
                if self._stop:
                    return

                uvicorn_config = uvicorn.Config(
                    app,
                    log_config=None,
                    access_log=False,
                    lifespan="off",
                    server_header=False,
                    timeout_graceful_shutdown=max(1, round(config.shutdown_timeout)),
                    timeout_keep_alive=5,
                )
                self._server = _UvicornServer(uvicorn_config, self._announce)
                await self._server.serve(sockets=[sock])
        log.info("daemon.stopped")

    async def _start_simulation(self, stack: contextlib.AsyncExitStack) -> str:
        from ..sim import SimCluster

        cluster = await stack.enter_async_context(
            SimCluster(
                time_scale=self.config.simulate_time_scale,
                scenario=self.config.simulate_scenario,
            )
        )
        log.info("daemon.simulation_started", kubeconfig=str(cluster.kubeconfig_path))
        return str(cluster.kubeconfig_path)

    def _announce(self) -> None:
        assert self.context is not None
        log.info(
            "daemon.started",
            url=self.url,
            namespace=self.context.engine.namespace,
            simulate=self.config.simulate,
            auth=self.config.token is not None,
            profiles=sorted(self.config.profiles),
        )
        self.started.set()
