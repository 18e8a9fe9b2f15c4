"""Outcome checks, the polling estimate and the two report forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runspaced import Endpoint, Phase, RunspaceInfo, RunspaceState
from runspaced.demo.outcomes import DemoResult, Outcome, polling_estimate
from runspaced.demo.probe import ProbeResult
from runspaced.demo.report import json_document, summary_text
from runspaced.demo.workload import Case, build_workload

_START = datetime(2025, 1, 1, tzinfo=UTC)


def _case(kind: str) -> Case:
    return next(c for c in build_workload(12) if c.kind == kind)


def _info(state: RunspaceState, seconds: float, reason: str | None = None) -> RunspaceInfo:
    end = _START + timedelta(seconds=seconds)
    return RunspaceInfo(
        id="demo-a",
        pod_name="demo-a",
        namespace="default",
        state=state,
        phase=Phase.READY if state is RunspaceState.READY else Phase.PULLING,
        image="python:3.12-slim",
        reason=reason,
        endpoint=Endpoint("127.9.0.2", 8080) if state is RunspaceState.READY else None,
        created_at=_START,
        ready_at=end if state is RunspaceState.READY else None,
        finished_at=None if state is RunspaceState.READY else end,
        phase_seconds={"scheduling": 0.01, "pulling": seconds - 0.01},
    )


def _ready(seconds: float = 1.0, status: int | None = 200) -> Outcome:
    info = _info(RunspaceState.READY, seconds)
    assert info.endpoint is not None
    probe = ProbeResult(info.endpoint, status, "hello")
    return Outcome(
        _case("starts"),
        "demo-a",
        info,
        RunspaceState.READY,
        None,
        None,
        probe=probe,
        final_state=RunspaceState.DELETED,
    )


def _failed(kind: str, reason: str, seconds: float = 0.5) -> Outcome:
    info = _info(RunspaceState.ERROR, seconds, reason)
    return Outcome(
        _case(kind),
        "demo-b",
        info,
        RunspaceState.ERROR,
        reason,
        "message",
        final_state=RunspaceState.DELETED,
    )


def test_outcome_seconds_from_timestamps() -> None:
    assert _ready(1.25).seconds == 1.25
    assert _failed("container crashes", "Error", 0.75).seconds == 0.75


def test_expected_outcomes_have_no_problems() -> None:
    result = DemoResult(outcomes=[_ready(), _failed("image does not exist", "ErrImagePull")])

    assert result.problems() == []


def test_wrong_reason_is_a_problem() -> None:
    outcome = _failed("image does not exist", "InvalidImageName")

    (problem,) = outcome.problems()
    assert "expected error (ErrImagePull|ImagePullBackOff)" in problem
    assert "got error (InvalidImageName)" in problem


def test_failed_probe_is_a_problem() -> None:
    (problem,) = _ready(status=None).problems()

    assert "endpoint check failed" in problem


def test_undeleted_runspace_is_a_problem() -> None:
    outcome = _ready()
    outcome.final_state = RunspaceState.TERMINATING

    (problem,) = outcome.problems()
    assert "not deleted (last state terminating)" in problem


def test_leaked_pods_are_a_problem() -> None:
    result = DemoResult(outcomes=[_ready()], leaked_pods=["demo-x"])

    assert result.problems() == ["pods left in the cluster: demo-x"]


def test_polling_estimate_counts_creates_and_gets() -> None:
    outcomes = [_ready(1.0), _ready(0.25), _failed("container crashes", "Error", 0.0)]

    # creates 3; GETs ceil(10.0) + ceil(2.5) + at least one for an instant outcome.
    assert polling_estimate(outcomes) == 3 + 10 + 3 + 1


def test_json_document_fields() -> None:
    result = DemoResult(
        outcomes=[_ready(1.0), _failed("image does not exist", "ImagePullBackOff")],
        api_requests=9,
        requests_by_verb={"create": 2, "delete": 2, "list": 2, "watch": 3},
    )

    document = json_document(result)

    assert document["api_requests"] == {"total": 9, "by_verb": result.requests_by_verb}
    assert document["polling_estimate"] == 2 + 10 + 5
    assert document["leaked_pods"] == 0
    assert document["ok"] is True
    ready, failed = document["runspaces"]
    assert ready["state"] == "ready"
    assert ready["seconds"] == 1.0
    assert ready["probe"]["status"] == 200
    assert ready["endpoint"] == "127.9.0.2:8080"
    assert failed["reason"] == "ImagePullBackOff"
    assert set(failed["phases"]) == {"scheduling", "pulling"}
    assert {"id", "image", "state", "reason", "message", "seconds", "phases"} <= set(failed)


def test_summary_text_lists_rows_and_totals() -> None:
    result = DemoResult(
        outcomes=[_ready(1.0), _failed("image does not exist", "InvalidImageName")],
        api_requests=9,
        requests_by_verb={"create": 2},
    )

    text = summary_text(result)

    assert "python:3.12-slim" in text
    assert "UNEXPECTED" in text
    assert "API requests made by the engine: 9 (create 2)" in text
    assert "about 17 requests" in text
