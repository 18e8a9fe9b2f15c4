"""The daemon as a process: SIGTERM drains and exits 0, the non-loopback refusal, restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from runspaced._daemon import load_config

from .harness import TOKEN, RunningDaemon, SimClusterThread, write_config

SECRET_ENV_VALUE = "env-value-that-must-not-be-logged"


def spawn(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runspaced", "serve", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def read_started_url(process: subprocess.Popen[str], lines: list[str]) -> str:
    """Read JSON log lines from stderr until daemon.started; return its URL."""
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if '"daemon.started"' in line:
            return str(json.loads(line)["url"])
    raise AssertionError("daemon did not start:\n" + "".join(lines))


def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("rules:\n  - image: 'sim/slow:*'\n    pull_seconds: 600\n")
    process = spawn(
        "--simulate",
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        str(token_file),
        "--time-scale",
        "0.05",
        "--scenario",
        str(scenario),
        "--log-format",
        "json",
    )
    lines: list[str] = []
    try:
        url = read_started_url(process, lines)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            while http.get("/readyz").status_code != 200:
                time.sleep(0.05)
            ready = http.post(
                "/v1/runspaces",
                json={"profile": "default", "env": {"APP": SECRET_ENV_VALUE}},
                params={"wait": 20},
            )
            assert ready.status_code == 201
            slow = http.post(
                "/v1/runspaces", json={"profile": "default", "image": "sim/slow:1"}
            ).json()

            # An in-flight long poll and an open event stream when SIGTERM arrives.
            results: dict[str, Any] = {}

            def long_poll() -> None:
                results["wait"] = http.get(
                    f"/v1/runspaces/{slow['id']}/wait", params={"timeout": 25}
                )

            def stream() -> None:
                with httpx.stream(
                    "GET", f"{url}/v1/events", headers=headers, timeout=30
                ) as response:
                    results["events"] = list(response.iter_lines())

            threads = [threading.Thread(target=long_poll), threading.Thread(target=stream)]
            for thread in threads:
                thread.start()
            # Send the signal only once both requests are inside the daemon.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                metrics = http.get("/metrics").text
                if (
                    "runspaced_daemon_waiting_requests 1" in metrics
                    and "runspaced_sse_subscribers 1" in metrics
                ):
                    break
                time.sleep(0.05)
            sent_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            for thread in threads:
                thread.join(30)

            assert results["wait"].status_code == 202
            assert results["wait"].json()["state"] == "creating"
            assert "retry: 2000" in results["events"]

        exit_code = process.wait(30)
        elapsed = time.monotonic() - sent_at
        assert exit_code == 0
        assert elapsed < 20
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.stderr is not None
    output = "".join(lines) + process.stderr.read()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    events = [record.get("event") for record in records]
    assert "daemon.shutdown_started" in events
    assert "daemon.stopped" in events
    assert TOKEN not in output
    assert SECRET_ENV_VALUE not in output

    requests = [record for record in records if record.get("event") == "request.completed"]
    create = next(r for r in requests if r["method"] == "POST" and r["status"] == 201)
    assert create["path"] == "/v1/runspaces"
    assert create["runspace_id"] == ready.json()["id"]
    assert create["duration_ms"] >= 0


def test_non_loopback_without_token_refused() -> None:
    process = spawn("--simulate", "--listen", "0.0.0.0:0")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "refusing to listen on 0.0.0.0:0 without a token" in stderr
    assert "--token-file" in stderr


def test_invalid_config_exits_2(tmp_path: Path) -> None:
    config_file = tmp_path / "daemon.yaml"
    config_file.write_text("profiles:\n  web:\n    image: python:3.12\nmax_runspaces: -1\n")
    process = spawn("--config", str(config_file))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "invalid setting max_runspaces" in stderr


def test_restarted_daemon_adopts_and_honours_ttl(tmp_path: Path) -> None:
    with SimClusterThread() as cluster:
        flags = write_config(tmp_path, {"simulate": False})
        flags["kubeconfig"] = cluster.kubeconfig_path
        config = load_config(flags, {})

        first = RunningDaemon(config).start()
        try:
            with first.client() as http:
                keep = http.post(
                    "/v1/runspaces", json={"profile": "default"}, params={"wait": 20}
                ).json()
                expiring = http.post(
                    "/v1/runspaces",
                    json={"profile": "default", "ttl_seconds": 3},
                    params={"wait": 20},
                ).json()
        finally:
            first.stop()

        second = RunningDaemon(config).start()
        try:
            with second.client() as http:
                known = {item["id"]: item for item in http.get("/v1/runspaces").json()["items"]}
                assert known[keep["id"]]["state"] == "ready"
                assert known[expiring["id"]]["expires_at"] == expiring["expires_at"]

                deadline = time.monotonic() + 20
                state = "ready"
                while time.monotonic() < deadline and state not in ("terminating", "deleted"):
                    time.sleep(0.1)
                    state = http.get(f"/v1/runspaces/{expiring['id']}").json()["state"]
                assert state in ("terminating", "deleted")
                assert http.get(f"/v1/runspaces/{keep['id']}").json()["state"] == "ready"
        finally:
            second.stop()


def test_start_failures_exit_1(tmp_path: Path) -> None:
    config_file = tmp_path / "daemon.yaml"
    config_file.write_text("profiles:\n  web:\n    image: python:3.12\n")

    missing = spawn(
        "--config",
        str(config_file),
        "--kubeconfig",
        str(tmp_path / "missing"),
        "--listen",
        "127.0.0.1:0",
    )
    _, stderr = missing.communicate(timeout=60)
    assert missing.returncode == 1
    assert "failed: kubeconfig not found" in stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = spawn("--simulate", "--listen", f"127.0.0.1:{port}")
        _, stderr = busy.communicate(timeout=60)
    assert busy.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "--listen" in stderr
