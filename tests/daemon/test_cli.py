"""The CLI client commands against a real daemon: output, progress and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from runspaced import cli
from runspaced._client import commands

from .harness import TOKEN, RunningDaemon


class Terminal(io.StringIO):
    """A stream that claims to be a terminal, to exercise live progress output."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def token_file(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return str(path)


def run(
    daemon: RunningDaemon, token_file: str, *arguments: str, err: io.StringIO | None = None
) -> tuple[int, str, str]:
    """Parse `arguments` with the real parser and run the command; return (status, out, err)."""
    parser, command = cli._build_parser(arguments[0])
    args = parser.parse_args([*arguments, "--url", daemon.url, "--token-file", token_file])
    out, err = io.StringIO(), err or io.StringIO()
    assert command is commands
    status = commands.run(args, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_create_wait_ready_exit_0(shared_daemon: RunningDaemon, token_file: str) -> None:
    status, out, err = run(
        shared_daemon,
        token_file,
        "create",
        "--wait",
        "--timeout",
        "20",
        "-o",
        "json",
        "--label",
        "example.com/cli=yes",
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["state"] == "ready"
    assert document["labels"]["example.com/cli"] == "yes"


def test_create_wait_shows_progress_on_terminal(
    shared_daemon: RunningDaemon, token_file: str
) -> None:
    terminal = Terminal()
    status, out, _ = run(
        shared_daemon, token_file, "create", "--wait", "--timeout", "20", err=terminal
    )
    assert status == 0
    progress = terminal.getvalue()
    assert "\r\033[K" in progress
    assert "creating (" in progress
    assert "ready (ready)" in progress
    assert "state:" in out
    assert "endpoint:" in out


def test_create_wait_failure_exit_1(shared_daemon: RunningDaemon, token_file: str) -> None:
    status, out, err = run(
        shared_daemon,
        token_file,
        "create",
        "--image",
        "registry.example/does-not-exist:1",
        "--wait",
        "--timeout",
        "20",
    )
    assert status == 1
    assert "ended in state error" in err
    assert "ImagePull" in err or "ErrImagePull" in err
    assert "state:" in out


def test_create_wait_timeout_exit_1(shared_daemon: RunningDaemon, token_file: str) -> None:
    status, _, err = run(
        shared_daemon,
        token_file,
        "create",
        "--profile",
        "quick-timeout",
        "--wait",
        "--timeout",
        "20",
    )
    assert status == 1
    assert "ended in state timeout" in err


def test_wait_still_creating_exit_1(shared_daemon: RunningDaemon, token_file: str) -> None:
    _, out, _ = run(shared_daemon, token_file, "create", "--image", "sim/slow:9", "-o", "json")
    runspace_id = json.loads(out)["id"]
    status, _, err = run(shared_daemon, token_file, "wait", runspace_id, "--timeout", "0.3")
    assert status == 1
    assert f"runspaced wait {runspace_id}" in err


def test_get_list_wait_delete(shared_daemon: RunningDaemon, token_file: str) -> None:
    _, out, _ = run(
        shared_daemon, token_file, "create", "-o", "json", "--label", "example.com/flow=1"
    )
    runspace_id = json.loads(out)["id"]

    status, out, _ = run(shared_daemon, token_file, "wait", runspace_id, "--timeout", "20")
    assert status == 0
    assert "ready" in out

    status, out, _ = run(shared_daemon, token_file, "get", runspace_id)
    assert status == 0
    assert f"id:          {runspace_id}" in out

    status, out, _ = run(shared_daemon, token_file, "list", "--label", "example.com/flow=1")
    assert status == 0
    header, row = out.strip().splitlines()
    assert header.split()[:3] == ["ID", "STATE", "PHASE"]
    assert row.split()[:2] == [runspace_id, "ready"]

    status, out, _ = run(shared_daemon, token_file, "list", "--state", "ready", "-o", "json")
    assert runspace_id in {item["id"] for item in json.loads(out)}

    status, out, _ = run(shared_daemon, token_file, "delete", runspace_id, "-o", "json")
    assert status == 0
    assert json.loads(out)["state"] in ("terminating", "deleted")

    # The per-runspace stream ends once the runspace is deleted.
    status, out, _ = run(shared_daemon, token_file, "events", runspace_id)
    assert status == 0
    assert "deleted" in out.splitlines()[-1]


def test_unknown_runspace_exit_2(shared_daemon: RunningDaemon, token_file: str) -> None:
    status, _, err = run(shared_daemon, token_file, "get", "rs-nope")
    assert status == 2
    assert "HTTP 404" in err
    assert "runspaced list" in err


def test_rejected_request_exit_2(shared_daemon: RunningDaemon, token_file: str) -> None:
    status, _, err = run(
        shared_daemon, token_file, "create", "--profile", "fixed", "--image", "python:3.13"
    )
    assert status == 2
    assert "HTTP 422" in err
    assert "'image'" in err


def test_wrong_token_exit_2(shared_daemon: RunningDaemon, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token")
    status, _, err = run(shared_daemon, str(wrong), "list")
    assert status == 2
    assert "HTTP 401" in err
    assert "--token-file" in err


def test_unreachable_daemon_exit_2(token_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["list", "--url", "http://127.0.0.1:9", "--token-file", token_file])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot reach the daemon" in err
    assert "runspaced serve" in err


def test_missing_url_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RUNSPACED_URL", raising=False)
    assert cli.main(["list"]) == 2
    assert "RUNSPACED_URL" in capsys.readouterr().err


def test_create_timeout_needs_wait(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["create", "--url", "http://127.0.0.1:9", "--timeout", "5"]) == 2
    assert "--timeout applies only with --wait" in capsys.readouterr().err


def test_url_without_scheme_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "--url", "127.0.0.1:8099"]) == 2
    err = capsys.readouterr().err
    assert "invalid daemon URL '127.0.0.1:8099'" in err
    assert "http://" in err


def test_url_from_environment(
    shared_daemon: RunningDaemon, token_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNSPACED_URL", shared_daemon.url)
    monkeypatch.setenv("RUNSPACED_TOKEN_FILE", token_file)
    parser, _ = cli._build_parser("list")
    out = io.StringIO()
    assert commands.run(parser.parse_args(["list", "-o", "json"]), out=out, err=io.StringIO()) == 0
    assert isinstance(json.loads(out.getvalue()), list)


def test_invalid_key_value_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["create", "--env", "NOEQUALS", "--url", "http://127.0.0.1:9"])
    assert exited.value.code == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
