"""Quantities, image conventions, Go durations and scenario loading."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from runspaced.sim.images import conventional_behaviour, format_go_duration
from runspaced.sim.quantity import InvalidQuantity, cpu_millis, memory_bytes, parse_quantity
from runspaced.sim.reference import parse_normalized_named
from runspaced.sim.scenario import InvalidScenario, Scenario

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "scenario.yaml"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("1", Fraction(1)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("1Ki", Fraction(1024)),
        ("4Gi", Fraction(4 * 2**30)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("2G", Fraction(2 * 10**9)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("500u", Fraction(1, 2000)),
        ("+2", Fraction(2)),
        (3, Fraction(3)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_quantity_parses(text: str | int | float, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "1Kb", "Gi", "1 Gi", "abc", "1e", "1ki"])
def test_quantity_rejects_malformed(text: str) -> None:
    with pytest.raises(InvalidQuantity):
        parse_quantity(text)


def test_quantity_rounds_up() -> None:
    assert cpu_millis("0.0001") == 1
    assert cpu_millis("250m") == 250
    assert cpu_millis("2") == 2000
    assert memory_bytes("1.5Ki") == 1536
    assert memory_bytes("100m") == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.3134, "313ms"),
        (1.0, "1s"),
        (1.594, "1.594s"),
        (10, "10s"),
        (80, "1m20s"),
        (300, "5m0s"),
        (3725.5, "1h2m5.5s"),
    ],
)
def test_go_duration_format(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text


def test_convention_by_repository_word() -> None:
    def behaviour(image: str):  # type: ignore[no-untyped-def]
        return conventional_behaviour(parse_normalized_named(image))

    assert behaviour("sim/does-not-exist:1").pull_error is not None
    assert behaviour("sim/crashloop:1").exit_code == 1
    assert behaviour("sim/oom:1").exit_code == 137
    assert behaviour("sim/oom:1").oom_killed
    assert behaviour("my-oom-app").oom_killed
    plain = behaviour("grafana/bloom:1")
    assert plain.exit_code is None
    assert plain.pull_error is None
    assert 0.2 <= plain.pull_seconds <= 1.0
    assert behaviour("grafana/bloom:1") == plain


def test_pull_error_names_canonical_reference() -> None:
    error = conventional_behaviour(parse_normalized_named("does-not-exist")).pull_error
    assert error == (
        'failed to pull and unpack image "docker.io/library/does-not-exist:latest": failed to '
        'resolve reference "docker.io/library/does-not-exist:latest": pull access denied, '
        "repository does not exist or may require authorization: server message: "
        "insufficient_scope: authorization failed"
    )


def test_scenario_rule_overrides_convention() -> None:
    scenario = Scenario.from_dict(
        {
            "rules": [
                {"image": "sim/slow:*", "pull_seconds": 7},
                {"regex": r".*/crashloop:never", "exit_code": None},
                {"image": "sim/quiet:*", "endpoint": {"listening": False}, "preloaded": True},
                {"image": "sim/missing:*", "pull_error": True},
            ]
        }
    )
    slow = scenario.behaviour("sim/slow:1", parse_normalized_named("sim/slow:1"))
    assert slow.pull_seconds == 7.0
    tamed = scenario.behaviour("sim/crashloop:never", parse_normalized_named("sim/crashloop:never"))
    assert tamed.exit_code is None
    still = scenario.behaviour("sim/crashloop:1", parse_normalized_named("sim/crashloop:1"))
    assert still.exit_code == 1
    quiet = scenario.behaviour("sim/quiet:1", parse_normalized_named("sim/quiet:1"))
    assert quiet.endpoint_listening is False
    assert quiet.preloaded is True
    missing = scenario.behaviour("sim/missing:1", parse_normalized_named("sim/missing:1"))
    assert missing.pull_error is not None
    assert "pull access denied" in missing.pull_error


def test_scenario_first_matching_rule_wins() -> None:
    scenario = Scenario.from_dict(
        [{"image": "sim/*", "pull_seconds": 1}, {"image": "sim/app:*", "pull_seconds": 9}]
    )
    assert scenario.behaviour("sim/app:1", parse_normalized_named("sim/app:1")).pull_seconds == 1


@pytest.mark.parametrize(
    "data",
    [
        [{"pull_seconds": 1}],
        [{"image": "a", "regex": "b"}],
        [{"image": "a", "pull_secs": 1}],
        [{"image": "a", "pull_seconds": -1}],
        [{"image": "a", "exit_code": "1"}],
        [{"image": "a", "endpoint": True}],
        [{"regex": "("}],
        {"rules": [], "extra": 1},
        "not a list",
    ],
)
def test_scenario_rejects_bad_rules(data: object) -> None:
    with pytest.raises(InvalidScenario):
        Scenario.from_dict(data)  # type: ignore[arg-type]


def test_example_scenario_file_loads() -> None:
    scenario = Scenario.from_file(EXAMPLE)
    assert len(scenario.rules) >= 3
    images = [rule.pattern for rule in scenario.rules]
    assert any("slow" in image for image in images)


def test_scenario_file_rejects_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules: [\n")
    with pytest.raises(InvalidScenario):
        Scenario.from_file(path)
