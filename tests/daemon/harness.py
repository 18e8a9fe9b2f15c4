"""A real daemon (uvicorn on an ephemeral loopback port, simulated cluster) in a thread.

Tests talk to it over HTTP with httpx, like any client. The daemon runs its own asyncio
loop in a background thread, so sync tests, the CLI client and schemathesis can use it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from runspaced._daemon import Daemon, DaemonConfig, bind_socket, load_config

TOKEN = "test-token-0123456789"

# Behaviour of the test images in the simulated cluster (unscaled seconds).
SCENARIO = {
    "rules": [
        {"image": "sim/slow:*", "pull_seconds": 600},
    ]
}

BASE_CONFIG: dict[str, Any] = {
    "simulate": True,
    "simulate_time_scale": 0.05,
    "max_runspaces": 20,
    "max_wait_seconds": 30,
    "keepalive_seconds": 0.5,
    "shutdown_timeout": 5,
    "image_allowlist": ["python:*", "sim/*", "registry.example/does-not-exist:*"],
    "engine": {"creation_timeout": 60, "retention": 60},
    "profiles": {
        "default": {
            "image": "python:3.12-slim",
            "port": 8080,
            "allow_image": True,
            "allow_resources": True,
            "allowed_env": ["APP_*"],
            "allowed_label_prefixes": ["example.com/"],
            "max_resources": {"cpu": "2", "memory": "2Gi"},
        },
        "fixed": {"image": "python:3.12-slim", "port": 8080},
        "quick-timeout": {"image": "sim/slow:1", "port": 8080, "creation_timeout": 1},
    },
}


def write_config(
    directory: Path, overrides: dict[str, Any] | None = None, *, token: bool = True
) -> dict[str, Any]:
    """Write the config and scenario files; return the flags for `load_config`."""
    settings = {**BASE_CONFIG, **(overrides or {})}
    scenario = directory / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    settings["simulate_scenario"] = str(scenario)
    config_file = directory / "daemon.yaml"
    config_file.write_text(yaml.safe_dump(settings))
    flags: dict[str, Any] = {"config": str(config_file)}
    if token:
        token_file = directory / "token"
        token_file.write_text(TOKEN + "\n")
        flags["token_file"] = str(token_file)
    return flags


class RunningDaemon:
    """The daemon serving in a background thread; `url` is its base URL."""

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.daemon = Daemon(config)
        self.sock = bind_socket("127.0.0.1", 0)
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="runspaced daemon", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self.daemon.serve(self.sock))
        except BaseException as exc:
            self.error = exc

    def headers(self) -> dict[str, str]:
        """Headers that authenticate a request."""
        return {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for the daemon, authenticated unless `headers` are given."""
        kwargs.setdefault("headers", self.headers())
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.url, **kwargs)

    def start(self) -> RunningDaemon:
        """Start serving and wait until /readyz returns 200."""
        self._thread.start()
        if not self.daemon.started.wait(30):
            raise RuntimeError(f"daemon did not start: {self.error!r}")
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=self.url) as client:
            while client.get("/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("daemon did not become ready")
                time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Shut down gracefully and wait for the thread; raise what the daemon raised."""
        self.daemon.request_shutdown()
        self._thread.join(30)
        if self._thread.is_alive():
            raise RuntimeError("daemon did not stop within 30 s")
        if self.error is not None:
            raise self.error


def start_daemon(
    directory: Path, overrides: dict[str, Any] | None = None, *, token: bool = True
) -> RunningDaemon:
    """Write the config under `directory` and start a daemon with it."""
    flags = write_config(directory, overrides, token=token)
    return RunningDaemon(load_config(flags, {})).start()


class SimClusterThread:
    """A simulated cluster in its own thread and loop, outliving the daemons that use it."""

    def __init__(self, time_scale: float = 0.05) -> None:
        self.time_scale = time_scale
        self.kubeconfig_path: str | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="sim cluster", daemon=True
        )

    async def _main(self) -> None:
        from runspaced.sim import SimCluster

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with SimCluster(time_scale=self.time_scale) as cluster:
            self.kubeconfig_path = str(cluster.kubeconfig_path)
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> SimClusterThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("simulated cluster did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
