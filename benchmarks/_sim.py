"""The simulated cluster as a child process, and a small client for its admin routes.

The simulator runs as ``python -m runspaced sim`` in its own process, so its CPU time
never counts against the client being measured. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml

__all__ = ["SimProcess", "free_port"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SimProcess:
    """Start ``runspaced sim`` on loopback, wait until it serves, and stop it on exit.

    `workdir` receives the kubeconfig and the simulator's log (``sim.log``).
    `time_scale` multiplies every simulated delay. `scenario` is a scenario YAML path.
    `nodes` is the number of simulated nodes (110 pods each). `start_timeout` is in
    seconds; TimeoutError is raised when the simulator does not respond in time.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        time_scale: float = 1.0,
        scenario: Path | None = None,
        nodes: int | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.workdir = workdir
        self.time_scale = time_scale
        self.scenario = scenario
        self.nodes = nodes
        self.start_timeout = start_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kubeconfig_path = workdir / "kubeconfig"
        self.log_path = workdir / "sim.log"
        self.token = ""
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    def command(self) -> list[str]:
        """Return the command line that starts the simulator."""
        command = [
            sys.executable,
            "-m",
            "runspaced",
            "sim",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--kubeconfig-out",
            str(self.kubeconfig_path),
            "--time-scale",
            str(self.time_scale),
        ]
        if self.scenario is not None:
            command += ["--scenario", str(self.scenario)]
        if self.nodes is not None:
            command += ["--nodes", str(self.nodes)]
        return command

    async def __aenter__(self) -> SimProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            await self._wait_ready()
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
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.stop()

    async def stop(self) -> None:
        """Stop the simulator process: SIGINT, then SIGKILL after 10 seconds."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.returncode is not None:
                raise RuntimeError(
                    f"the simulator exited with code {self._process.returncode}:\n"
                    + self._log_tail()
                )
            if self.kubeconfig_path.is_file():
                config = yaml.safe_load(self.kubeconfig_path.read_text(encoding="utf-8"))
                if config:
                    self.token = config["users"][0]["user"]["token"]
                    try:
                        await self.request_counts()
                        return
                    except (aiohttp.ClientError, OSError):
                        pass
            await asyncio.sleep(0.1)
        raise TimeoutError(
            f"the simulator did not serve within {self.start_timeout} s:\n" + self._log_tail()
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=aiohttp.ClientTimeout(total=120),
            )
        return self._session

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def request_counts(self) -> dict[str, Any]:
        """Return the API request counters: ``{"total", "byVerb", "byResource"}``."""
        result: dict[str, Any] = await self._call("GET", "/_sim/requests")
        return result

    async def reset_request_counts(self) -> None:
        """Set the API request counters back to zero."""
        await self._call("DELETE", "/_sim/requests")

    async def timeline(self) -> dict[tuple[str, str], dict[str, float]]:
        """Return the node timeline: (namespace, pod) -> {milestone: time.time()}."""
        data = await self._call("GET", "/_sim/timeline")
        result: dict[tuple[str, str], dict[str, float]] = {}
        for row in data["pods"]:
            key = (row.pop("namespace"), row.pop("name"))
            result[key] = row
        return result

    async def create_namespace(self, name: str) -> None:
        """Create a namespace through the API (counted like any API request)."""
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        async with self.session.post("/api/v1/namespaces", json=body) as response:
            if response.status not in (200, 201, 409):
                raise RuntimeError(
                    f"creating namespace {name} failed: {response.status} {await response.text()}"
                )

    async def count_pods(self, namespace: str) -> int:
        """Return the number of pods in the namespace now."""
        data = await self._call("GET", f"/api/v1/namespaces/{namespace}/pods")
        return len(data.get("items") or ())

    async def wait_empty(self, namespace: str, timeout: float) -> int:
        """Wait until the namespace has no pods or `timeout` seconds pass; return the rest."""
        deadline = time.monotonic() + timeout
        remaining = await self.count_pods(namespace)
        while remaining and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            remaining = await self.count_pods(namespace)
        return remaining


def child_environment() -> dict[str, str]:
    """Return the environment for child processes, with the repository on PYTHONPATH."""
    environment = dict(os.environ)
    repository = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(
        part for part in (repository, environment.get("PYTHONPATH", "")) if part
    )
    return environment
