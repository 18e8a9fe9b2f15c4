"""Unit tests of the benchmark helpers: pod stream, outcome judging, percentiles, GC probe."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from _common import percentiles
from _podstream import PodStream, fields_v1
from compare import build_scenario, build_workload, judge

from runspaced import RunspaceState, classify_pod
from runspaced.sim.scenario import Scenario


def test_fields_v1_keys_named_lists() -> None:
    fields = fields_v1({"spec": {"containers": [{"name": "app", "image": "x"}], "tags": [1]}})

    containers = fields["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"app"}': {".": {}, "f:image": {}}}
    assert fields["f:spec"]["f:tags"] == {}


def test_pod_stream_lifecycles_complete() -> None:
    lines = PodStream(seed=3).lines(60)
    events = [orjson.loads(line) for line in lines]
    by_pod: dict[str, list[str]] = {}
    for event in events:
        by_pod.setdefault(event["object"]["metadata"]["name"], []).append(event["type"])

    assert len(by_pod) == 60
    for types in by_pod.values():
        assert types[0] == "ADDED"
        assert types[-1] == "DELETED"
        assert set(types[1:-1]) == {"MODIFIED"}


def test_pod_stream_events_realistic_size() -> None:
    lines = PodStream(seed=3).lines(100)
    mean = sum(map(len, lines)) / len(lines)

    assert 4000 <= mean <= 6500
    for line in lines:
        metadata = orjson.loads(line)["object"]["metadata"]
        assert metadata["managedFields"][0]["manager"] == "runspaced"
        assert metadata["labels"]["runspaced.dev/id"] == metadata["name"]


def test_pod_stream_ends_in_outcomes() -> None:
    first: dict[str, RunspaceState] = {}
    last: dict[str, RunspaceState] = {}
    for line in PodStream(seed=5).iter_lines(200, deletions=False):
        pod = orjson.loads(line)["object"]
        name = pod["metadata"]["name"]
        first.setdefault(name, classify_pod(pod).state)
        last[name] = classify_pod(pod).state

    outcomes = Counter(last.values())
    assert set(first.values()) == {RunspaceState.CREATING}
    assert set(outcomes) == {RunspaceState.READY, RunspaceState.ERROR}
    assert outcomes[RunspaceState.READY] > outcomes[RunspaceState.ERROR]


def test_pod_stream_reproducible_by_seed() -> None:
    first = PodStream(seed=9).lines(20)
    second = PodStream(seed=9).lines(20)

    assert first == second


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]

    assert percentiles(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_scenario_loads_in_simulator() -> None:
    scenario, catalogue = build_scenario(random.Random(1), images=40, failing_share=0.25)
    loaded = Scenario.from_dict(scenario)

    assert len(loaded.rules) == 40
    assert Counter(want for _, want in catalogue) == {"ready": 30, "error": 10}


def test_workload_failing_share() -> None:
    _, catalogue = build_scenario(random.Random(1), images=40, failing_share=0.25)
    workload = build_workload(random.Random(2), catalogue, 2000, 0.15)
    failing = sum(1 for _, want in workload if want == "error")

    assert len(workload) == 2000
    assert 200 <= failing <= 400


@pytest.mark.parametrize(
    ("outcome", "want", "stamps", "wrong_kind"),
    [
        ("ready", "ready", {"ready": 10.0}, None),
        ("ready", "ready", {"running": 9.0}, "ready_too_early"),
        ("ready", "ready", {"ready": 10.5}, "ready_too_early"),
        ("ready", "error", {"running": 9.0, "failed": 10.2}, "ready_but_fails"),
        ("error", "ready", {"ready": 10.0}, "error_but_ready"),
        ("error", "error", {"failed": 10.0}, None),
        ("timeout", "ready", {}, "timeout"),
    ],
)
def test_judge_outcome_kinds(
    outcome: str, want: str, stamps: dict[str, float], wrong_kind: str | None
) -> None:
    outcomes = [{"index": 0, "name": "p0", "outcome": outcome, "at": 10.25}]
    timeline = {("ns", "p0"): stamps}

    verdicts = judge(outcomes, [want], timeline, "ns")

    if wrong_kind is None:
        assert verdicts["wrong"] == {}
        assert verdicts["latencies_ms"] == [pytest.approx(250.0)]
    else:
        assert verdicts["wrong"] == {wrong_kind: 1}
        assert verdicts["latencies_ms"] == []


def test_plain_manifest_matches_engine_pod() -> None:
    from _providers import plain_pod_manifest

    from runspaced import RunspaceSpec
    from runspaced._kube.manifest import build_pod_manifest

    engine_pod = build_pod_manifest(
        RunspaceSpec(image="bench.local/app:v1"),
        runspace_id="rs-x",
        namespace="ns",
        create_token="token",
        run_as_user=65532,
        readiness_probe=True,
        extra_labels={},
    )
    plain_pod = plain_pod_manifest("rs-x", "bench.local/app:v1")
    engine_container = engine_pod["spec"]["containers"][0]
    plain_container = plain_pod["spec"]["containers"][0]

    assert plain_container["resources"] == engine_container["resources"]
    assert plain_container["readinessProbe"] == engine_container["readinessProbe"]
    assert plain_container["ports"] == engine_container["ports"]
    assert plain_pod["spec"]["restartPolicy"] == engine_pod["spec"]["restartPolicy"]


def test_gc_probe_logs_collections(tmp_path: Path) -> None:
    probe = Path(__file__).resolve().parents[2] / "benchmarks" / "gcprobe"
    environment = {
        **os.environ,
        "PYTHONPATH": str(probe),
        "RUNSPACED_GC_LOG_DIR": str(tmp_path),
        "RUNSPACED_GC_LOG_MS": "0",
    }

    subprocess.run(
        [sys.executable, "-c", "import gc; gc.collect()"],
        env=environment,
        check=True,
        timeout=60,
    )

    logs = list(tmp_path.glob("gc-*.log"))
    assert len(logs) == 1
    lines = logs[0].read_text(encoding="utf-8").splitlines()
    assert any(" gen2 " in line and "argv=-c" in line for line in lines)
