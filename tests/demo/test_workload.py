"""The demo's workload: the mix of cases and their expectations."""

from __future__ import annotations

import pytest

from runspaced import RunspaceState
from runspaced.demo.workload import build_workload


def test_default_mix_has_every_failure_kind() -> None:
    cases = build_workload(12)

    kinds = [case.kind for case in cases]
    assert len(cases) == 12
    assert kinds.count("starts") == 8
    for kind in ("image does not exist", "invalid image name", "container crashes", "too much cpu"):
        assert kinds.count(kind) == 1


def test_small_count_keeps_starting_case_first() -> None:
    cases = build_workload(3)

    assert [case.kind for case in cases] == ["starts", "image does not exist", "starts"]


def test_count_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        build_workload(0)


def test_unschedulable_case_uses_scheduling_timeout() -> None:
    (case,) = [c for c in build_workload(12, scheduling_timeout=2.5) if c.kind == "too much cpu"]

    assert case.spec.scheduling_timeout == 2.5
    assert case.spec.resources.requests["cpu"] == "64"


@pytest.mark.parametrize(
    ("kind", "state", "reason", "expected"),
    [
        ("starts", RunspaceState.READY, None, True),
        ("starts", RunspaceState.ERROR, "ErrImagePull", False),
        ("image does not exist", RunspaceState.ERROR, "ImagePullBackOff", True),
        ("image does not exist", RunspaceState.ERROR, "ErrImagePull", True),
        ("image does not exist", RunspaceState.ERROR, "InvalidImageName", False),
        ("invalid image name", RunspaceState.ERROR, "InvalidImageName", True),
        ("container crashes", RunspaceState.ERROR, "Error", True),
        ("container crashes", RunspaceState.ERROR, "CrashLoopBackOff", True),
        ("container crashes", RunspaceState.READY, None, False),
        ("too much cpu", RunspaceState.ERROR, "Unschedulable", True),
        ("too much cpu", RunspaceState.TIMEOUT, "CreationTimeout", False),
    ],
)
def test_case_matches_outcome(
    kind: str, state: RunspaceState, reason: str | None, expected: bool
) -> None:
    (case, *_) = [c for c in build_workload(12) if c.kind == kind]

    assert case.matches(state, reason) is expected


def test_expectation_names_reasons() -> None:
    (case,) = [c for c in build_workload(12) if c.kind == "image does not exist"]

    assert case.expectation == "error (ErrImagePull|ImagePullBackOff)"


def test_images_match_simulator_conventions() -> None:
    from runspaced.sim.images import conventional_behaviour
    from runspaced.sim.reference import InvalidReference, parse_normalized_named

    for case in build_workload(14):
        image = case.spec.image
        if case.kind == "invalid image name":
            with pytest.raises(InvalidReference):
                parse_normalized_named(image)
            continue
        behaviour = conventional_behaviour(parse_normalized_named(image))
        if case.kind == "image does not exist":
            assert behaviour.pull_error is not None, image
        elif case.kind == "container crashes":
            assert behaviour.exit_code == 1, image
        else:
            assert behaviour.pull_error is None, image
            assert behaviour.exit_code is None, image
