"""Run both benchmark scripts in --quick mode and check the shape of their JSON output.

These check that the scripts work and report plausible values; they assert no speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_script(name: str, output: Path, timeout: float) -> dict[str, Any]:
    """Run benchmarks/NAME --quick --json OUTPUT and return the parsed file."""
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), "--quick", "--json", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    data: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return data


def assert_non_negative_number(value: Any, what: str) -> None:
    assert isinstance(value, int | float) and not isinstance(value, bool), what
    assert value >= 0, what


@pytest.fixture(scope="module")
def compare_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_script("compare.py", tmp_path_factory.mktemp("compare") / "out.json", 180)


@pytest.fixture(scope="module")
def hotpath_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_script("hotpath.py", tmp_path_factory.mktemp("hotpath") / "out.json", 180)


def test_compare_lists_every_provider(compare_result: dict[str, Any]) -> None:
    assert compare_result["runspaces"] == 30
    assert set(compare_result["providers"]) == {"polling", "watch_per_waiter", "runspaced"}


@pytest.mark.parametrize("provider", ["polling", "watch_per_waiter", "runspaced"])
def test_compare_provider_fields(compare_result: dict[str, Any], provider: str) -> None:
    result = compare_result["providers"][provider]
    runspaces = compare_result["runspaces"]

    for field in ("api_requests", "api_requests_per_runspace", "cpu_seconds", "peak_rss_mb"):
        assert_non_negative_number(result[field], f"{provider}.{field}")
    assert isinstance(result["wrong_outcomes"], int)
    assert result["wrong_outcomes"] >= 0
    # Every waiter creates its pod, so there is at least one request per runspace.
    assert result["api_requests"] >= runspaces
    assert result["api_requests_per_runspace"] == pytest.approx(
        result["api_requests"] / runspaces, abs=0.01
    )
    assert result["peak_rss_mb"] > 0
    assert sum(result["outcomes"].values()) == runspaces


@pytest.mark.parametrize("provider", ["polling", "watch_per_waiter", "runspaced"])
def test_compare_latency_percentiles(compare_result: dict[str, Any], provider: str) -> None:
    latency = compare_result["providers"][provider]["latency_ms"]

    assert set(latency) == {"p50", "p95", "p99"}
    for point in ("p50", "p95", "p99"):
        assert_non_negative_number(latency[point], f"{provider}.latency_ms.{point}")
    assert latency["p50"] <= latency["p95"] <= latency["p99"]


@pytest.mark.parametrize("provider", ["polling", "watch_per_waiter", "runspaced"])
def test_compare_reads_by_verb(compare_result: dict[str, Any], provider: str) -> None:
    result = compare_result["providers"][provider]
    by_verb = result["api_requests_by_verb"]

    expected = sum(by_verb.get(verb, 0) for verb in ("get", "list", "watch"))
    assert result["api_reads"] == expected
    assert sum(by_verb.values()) == result["api_requests"]


def test_compare_target_ratios(compare_result: dict[str, Any]) -> None:
    providers = compare_result["providers"]
    targets = compare_result["targets"]
    polling = providers["polling"]
    runspaced = providers["runspaced"]

    assert targets["requests_polling_over_runspaced"] == pytest.approx(
        polling["api_requests"] / runspaced["api_requests"], abs=0.05
    )
    assert targets["reads_polling_over_runspaced"] == pytest.approx(
        polling["api_reads"] / runspaced["api_reads"], abs=0.05
    )
    assert targets["runspaced_p99_over_polling_p50"] == pytest.approx(
        runspaced["latency_ms"]["p99"] / polling["latency_ms"]["p50"], abs=0.0005
    )
    assert targets["fewer_requests_than_watch_per_waiter"] is (
        runspaced["api_requests"] < providers["watch_per_waiter"]["api_requests"]
    )


def test_compare_runspaced_outcomes_right(compare_result: dict[str, Any]) -> None:
    runspaced = compare_result["providers"]["runspaced"]

    assert runspaced["wrong_outcomes"] == 0
    assert runspaced["outcomes"].get("timeout", 0) == 0


def test_hotpath_events_per_second(hotpath_result: dict[str, Any]) -> None:
    rates = hotpath_result["events_per_second"]

    assert rates["runspaced"] > 0
    assert rates["kubernetes_asyncio_models"] > 0


def test_hotpath_decode_microseconds(hotpath_result: dict[str, Any]) -> None:
    decode = hotpath_result["decode_microseconds_per_event"]

    assert decode["orjson_whole_line"] > 0
    assert decode["runspaced_decode_pod_event"] > 0
    assert decode["events"] == hotpath_result["events_per_second"]["events"]


def test_hotpath_bytes_per_runspace(hotpath_result: dict[str, Any]) -> None:
    memory = hotpath_result["bytes_per_runspace"]

    assert memory["runspaced"] > 0
    assert memory["full_pod_dicts"] > 0


def test_hotpath_sync_seconds(hotpath_result: dict[str, Any]) -> None:
    assert hotpath_result["sync_seconds_10k"] > 0
    assert hotpath_result["sync"]["tracked"] == hotpath_result["sync"]["pods"]


def test_results_name_commit_and_packages(
    compare_result: dict[str, Any], hotpath_result: dict[str, Any]
) -> None:
    for result in (compare_result, hotpath_result):
        machine = result["machine"]

        assert machine["packages"]["msgspec"]
        assert machine["packages"]["kubernetes-asyncio"]
        assert "commit" in machine
