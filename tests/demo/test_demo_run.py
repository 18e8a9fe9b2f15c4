"""`runspaced demo` run end to end in-process: simulated cluster, engine, JSON and plain output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from runspaced import RunspaceState
from runspaced.cli import main
from runspaced.demo.live import PlainView
from runspaced.demo.runner import DemoOptions, run_demo
from runspaced.demo.workload import build_workload

# Fast settings: simulated delays at a tenth, and a 1 s scheduling deadline.
_FAST = ["--time-scale", "0.1", "--scheduling-timeout", "1"]


def _expected(entry: dict[str, object]) -> tuple[str, set[str] | None]:
    """Return the state and reasons the simulator's rules give this runspace's image."""
    image = str(entry["image"])
    if entry["kind"] == "too much cpu":
        return "error", {"Unschedulable"}
    if "does-not-exist" in image:
        return "error", {"ErrImagePull", "ImagePullBackOff"}
    if "crashloop" in image:
        # restartPolicy Never: the exit is reason Error; a restarting pod shows CrashLoopBackOff.
        return "error", {"Error", "CrashLoopBackOff"}
    if image != image.lower():
        return "error", {"InvalidImageName"}
    return "ready", None


def test_json_outcomes_match_images(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--json", *_FAST])

    captured = capsys.readouterr()
    document = json.loads(captured.out)
    runspaces = document["runspaces"]
    assert status == 0, captured.err
    assert len(runspaces) == 12
    assert {entry["kind"] for entry in runspaces} == {
        "starts",
        "image does not exist",
        "invalid image name",
        "container crashes",
        "too much cpu",
    }
    for entry in runspaces:
        state, reasons = _expected(entry)
        assert entry["state"] == state, entry
        if reasons is None:
            assert entry["reason"] is None, entry
            assert entry["probe"]["status"] == 200, entry
        else:
            assert entry["reason"] in reasons, entry
        assert entry["final_state"] == "deleted", entry
        assert entry["seconds"] is not None and entry["seconds"] >= 0, entry
        assert "scheduling" in entry["phases"], entry
    assert document["leaked_pods"] == 0
    assert document["problems"] == []


def test_json_counts_engine_requests(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--json", "--runspaces", "3", *_FAST])

    document = json.loads(capsys.readouterr().out)
    by_verb = document["api_requests"]["by_verb"]
    assert by_verb["create"] == 3
    assert by_verb["delete"] >= 2  # the two ready runspaces; the failed one may be gone already
    assert by_verb["watch"] >= 1
    assert "get" not in by_verb  # waiters never poll
    assert document["api_requests"]["total"] == sum(by_verb.values())
    assert document["polling_estimate"] >= 3 + 3


def test_plain_output_without_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--runspaces", "4", *_FAST])

    captured = capsys.readouterr()
    out = captured.out
    assert status == 0, captured.err
    assert "\x1b[" not in out
    assert "-- creating 4 runspaces" in out
    assert out.count(" probed ") == 2
    assert "InvalidImageName" in out
    assert "ErrImagePull" in out
    assert "4 as expected" in out
    assert "Pods left: 0." in out
    assert "API requests made by the engine:" in out
    assert "Estimate for per-waiter polling every 100 ms" in out
    transitions = [line for line in out.splitlines() if " deleted " in line]
    assert len(transitions) == 4


def test_unexpected_outcome_exits_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text('rules:\n  - image: "nginx:*"\n    pull_error: true\n', encoding="utf-8")

    status = main(["demo", "--json", "--runspaces", "3", "--scenario", str(scenario), *_FAST])

    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert status == 1
    assert document["ok"] is False
    (nginx,) = [entry for entry in document["runspaces"] if entry["image"] == "nginx:1.27"]
    assert nginx["state"] == "error"
    assert nginx["as_expected"] is False
    assert "nginx:1.27: expected ready, got error (ErrImagePull)" in captured.err
    assert document["leaked_pods"] == 0


def test_missing_scenario_exits_two(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["demo", "--scenario", str(tmp_path / "absent.yaml")])

    assert status == 2
    assert "scenario file not found" in capsys.readouterr().err


def test_invalid_scenario_exits_two(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("rules:\n  - image: [unclosed\n", encoding="utf-8")

    status = main(["demo", "--scenario", str(scenario)])

    assert status == 2
    assert "invalid scenario" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-3", "many", "201"])
def test_invalid_runspace_count_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--runspaces", value])

    assert exit_info.value.code == 2
    assert "invalid runspace count" in capsys.readouterr().err


def test_live_view_on_terminal() -> None:
    """Run the demo as a subprocess whose stdout is a pseudo-terminal."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "runspaced", "demo", "--runspaces", "3", *_FAST]
    with subprocess.Popen(command, stdout=follower, stderr=subprocess.PIPE) as process:
        os.close(follower)
        output = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        stderr = process.stderr.read().decode() if process.stderr else ""
    os.close(leader)

    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, stderr
    assert "\x1b[?25l" in text  # cursor hidden while the table is live
    assert "\x1b[?25h" in text  # and shown again at the end
    assert "F\x1b[2K" in text  # the table is redrawn over itself
    assert "3 as expected" in text


def test_deadline_reports_and_cleans_up(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text('rules:\n  - image: "python:*"\n    pull_seconds: 600\n', encoding="utf-8")
    options = DemoOptions(
        cases=tuple(build_workload(2)),
        time_scale=0.1,
        scenario=scenario,
        deadline=1.5,
    )

    result = anyio.run(run_demo, options, PlainView(io.StringIO()), backend="asyncio")

    slow, missing = result.outcomes
    assert result.errors == ["the demo did not finish within 1.5 s"]
    assert slow.reason == "DemoDeadline"
    assert slow.state is RunspaceState.CREATING
    assert slow.final_state is RunspaceState.DELETED
    assert missing.reason == "ErrImagePull"
    assert result.leaked_pods == []
    assert any("python:3.12-slim: expected ready" in p for p in result.problems())
