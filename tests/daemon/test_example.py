"""examples/sidecar_client.py runs against a real daemon and cleans up after itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .harness import TOKEN, RunningDaemon

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sidecar_client.py"


def test_sidecar_client_example(shared_daemon: RunningDaemon, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--url", shared_daemon.url, "--wait", "30"],
        env={**os.environ, "RUNSPACED_TOKEN_FILE": str(token_file)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("created rs-")
    assert lines[1].startswith("GET / -> 200")
    assert lines[2].startswith("deleted rs-")

    runspace_id = lines[0].split()[1].rstrip(",")
    with shared_daemon.client() as http:
        assert http.get(f"/v1/runspaces/{runspace_id}").json()["state"] in (
            "terminating",
            "deleted",
        )


def test_sidecar_client_example_reports_failure(
    shared_daemon: RunningDaemon, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--url",
            shared_daemon.url,
            "--profile",
            "quick-timeout",
            "--wait",
            "30",
        ],
        env={**os.environ, "RUNSPACED_TOKEN_FILE": str(token_file)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "HTTP 409" in result.stderr
    assert "timed out" in result.stderr or "Timeout" in result.stderr
