"""classify_pod against real pod objects rebuilt from public bug reports.

Each fixture in fixtures/pod-cases keeps its `source` (the public report it came from)
and the verdict a waiting caller expects.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from runspaced import Phase, RunspaceState, classify_pod

CASES_DIR = Path(__file__).parent / "fixtures" / "pod-cases"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_fixtures_present() -> None:
    assert len(CASE_FILES) >= 19
    for path in CASE_FILES:
        assert _load(path)["source"].startswith("http"), path.name


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_pod_case_verdict(path: Path) -> None:
    case = _load(path)
    expected = case["expected"]

    verdict = classify_pod(case["pod"])

    assert verdict.state == RunspaceState(expected["state"]), case["what"]
    if expected["reasons"]:
        assert verdict.reason in expected["reasons"], case["what"]
    if verdict.state is RunspaceState.ERROR:
        assert verdict.message, "an error verdict must carry a message"


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_pod_case_is_pure(path: Path) -> None:
    pod = _load(path)["pod"]
    before = copy.deepcopy(pod)

    first = classify_pod(pod)
    second = classify_pod(pod)

    assert first == second
    assert pod == before


def test_ready_when_ip_accepts_running_with_ip() -> None:
    pod = _load(CASES_DIR / "03-running-not-ready-startup-probe.json")["pod"]

    assert classify_pod(pod).state is RunspaceState.CREATING
    assert classify_pod(pod, ready_when="ip").state is RunspaceState.READY


def test_deletion_timestamp_wins_over_error() -> None:
    pod = copy.deepcopy(_load(CASES_DIR / "09-imagepullbackoff.json")["pod"])
    pod["metadata"]["deletionTimestamp"] = "2024-06-08T10:05:00Z"

    assert classify_pod(pod).state is RunspaceState.TERMINATING


def test_succeeded_pod_is_error() -> None:
    pod = {
        "metadata": {"name": "done"},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {"name": "main", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ],
        },
    }

    verdict = classify_pod(pod)

    assert verdict.state is RunspaceState.ERROR
    assert verdict.reason == "Completed"


def test_succeeded_with_disruption_target_uses_its_reason() -> None:
    pod = {
        "status": {
            "phase": "Succeeded",
            "conditions": [
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "PreemptionByScheduler",
                    "message": "preempted",
                }
            ],
        }
    }

    verdict = classify_pod(pod)

    assert verdict.reason == "PreemptionByScheduler"
    assert verdict.message == "preempted"


def test_second_container_failure_is_found() -> None:
    pod = {
        "spec": {"nodeName": "node-1"},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}},
                {
                    "name": "b",
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}},
                },
            ],
        },
    }

    verdict = classify_pod(pod)

    assert verdict.state is RunspaceState.ERROR
    assert verdict.reason == "ErrImagePull"
    assert verdict.message == "not found"


def test_empty_pod_is_scheduling() -> None:
    verdict = classify_pod({})

    assert verdict.state is RunspaceState.CREATING
    assert verdict.phase is Phase.SCHEDULING


def test_crash_loop_message_names_last_exit() -> None:
    pod = _load(CASES_DIR / "24-crashloopbackoff.json")["pod"]

    verdict = classify_pod(pod)

    assert verdict.message is not None
    assert "exit code" in verdict.message
    assert verdict.phase is Phase.STARTING
