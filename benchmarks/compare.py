"""Compare three ways of waiting for pods on the simulated cluster.

Usage::

    python benchmarks/compare.py [--runspaces N] [--json PATH] [--quick]

The simulator runs in its own process with one scenario: pull and start times drawn
from lognormal distributions, and a share of images that fail (one whose pull fails,
one that exits 1 shortly after it starts). The same workload, N runspaces started at
once, then runs through each provider in `_providers.py`, one after another, each in
a fresh namespace and its own child process:

1. ``polling``: GET every 100 ms until Running with an IP or a container error.
2. ``watch_per_waiter``: one watch per pod, judged by `runspaced.classify_pod`.
3. ``runspaced``: the engine, one shared watch.

Per provider it reports the API requests the simulator counted, the client's CPU
seconds and peak RSS, the detection latency (from the simulator's timeline stamp of
"ready" or "failed" to the waiter's outcome, both ``time.time()``) and the wrong
outcomes. `--timeout` bounds the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from _common import machine_info, percentiles, write_json
from _sim import SimProcess, child_environment

PROVIDER_NAMES = ("polling", "watch_per_waiter", "runspaced")
PROVIDERS_SCRIPT = Path(__file__).resolve().parent / "_providers.py"
# The requests a waiter spends learning about its pod; create and delete are the rest.
READ_VERBS = ("get", "list", "watch")


# -- the scenario ---------------------------------------------------------------------


def build_scenario(
    rng: random.Random, *, images: int, failing_share: float
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return a scenario dict and the images it defines, each with its expected outcome.

    Healthy images pull in lognormal(median 2 s, sigma 0.7) seconds, clipped to
    0.5..8 s, and become ready after a lognormal(median 0.5 s) start time. Failing
    images split evenly between a pull that fails (repository not found) and a
    container that exits 1 after 0.3 s, before its readiness probe could pass.
    Durations are unscaled; the simulator's time scale applies on top.
    """
    rules: list[dict[str, Any]] = []
    catalogue: list[tuple[str, str]] = []
    failing = max(2, round(images * failing_share))
    for index in range(images):
        pull = round(min(8.0, max(0.5, rng.lognormvariate(0.693, 0.7))), 3)
        if index < failing // 2:
            image = f"bench.local/does-not-exist-{index:03d}:v1"
            rules.append({"image": image, "pull_seconds": pull, "pull_error": True})
            catalogue.append((image, "error"))
        elif index < failing:
            image = f"bench.local/crashloop-{index:03d}:v1"
            rules.append(
                {
                    "image": image,
                    "pull_seconds": pull,
                    "exit_code": 1,
                    "crash_after_seconds": 0.3,
                    "readiness_delay_seconds": 1.0,
                }
            )
            catalogue.append((image, "error"))
        else:
            image = f"bench.local/app-{index:03d}:v1"
            start = round(min(3.0, max(0.1, rng.lognormvariate(-0.693, 0.5))), 3)
            rules.append({"image": image, "pull_seconds": pull, "readiness_delay_seconds": start})
            catalogue.append((image, "ready"))
    return {"rules": rules}, catalogue


def build_workload(
    rng: random.Random, catalogue: Sequence[tuple[str, str]], runspaces: int, failing_share: float
) -> list[tuple[str, str]]:
    """Return one (image, expected outcome) per runspace; `failing_share` of them fail."""
    healthy = [entry for entry in catalogue if entry[1] == "ready"]
    failing = [entry for entry in catalogue if entry[1] == "error"]
    workload = []
    for _ in range(runspaces):
        pool = failing if rng.random() < failing_share else healthy
        workload.append(rng.choice(pool))
    return workload


# -- judging outcomes -------------------------------------------------------------------


def judge(
    outcomes: Sequence[Mapping[str, Any]],
    expected: Sequence[str],
    timeline: Mapping[tuple[str, str], Mapping[str, float]],
    namespace: str,
) -> dict[str, Any]:
    """Return latencies (ms) of correct outcomes and the count of wrong ones, by kind.

    An outcome is wrong when it is "ready" before the simulator stamped the pod
    ready (or never did), "ready" for an image that fails, "error" for an image that
    becomes ready, or a timeout. Latency is measured only for correct outcomes.
    """
    latencies: list[float] = []
    wrong: dict[str, int] = {}

    def count(kind: str) -> None:
        wrong[kind] = wrong.get(kind, 0) + 1

    for outcome in outcomes:
        stamps = timeline.get((namespace, outcome["name"]), {})
        want = expected[outcome["index"]]
        got = outcome["outcome"]
        at = outcome["at"]
        if got == "timeout":
            count("timeout")
        elif got == "ready" and want == "error":
            count("ready_but_fails")
        elif got == "error" and want == "ready":
            count("error_but_ready")
        elif got == "ready":
            ready = stamps.get("ready")
            if ready is None or ready > at:
                count("ready_too_early")
            else:
                latencies.append((at - ready) * 1000)
        else:
            failed = stamps.get("failed")
            if failed is None or failed > at:
                count("error_too_early")
            else:
                latencies.append((at - failed) * 1000)
    return {"latencies_ms": latencies, "wrong": wrong}


# -- running one provider ---------------------------------------------------------------


async def run_provider(
    sim: SimProcess,
    name: str,
    workload: Sequence[tuple[str, str]],
    workdir: Path,
    *,
    deadline_s: float,
    timeout: float,
) -> dict[str, Any]:
    """Run one provider in a child process against `sim` and return its measurements."""
    namespace = f"bench-{name.replace('_', '-')}"
    await sim.create_namespace(namespace)
    plan = {
        "kubeconfig": str(sim.kubeconfig_path),
        "namespace": namespace,
        "images": [image for image, _ in workload],
        "deadline_s": deadline_s,
    }
    plan_path = workdir / f"{name}-plan.json"
    result_path = workdir / f"{name}-result.json"
    log_path = workdir / f"{name}.log"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")

    await sim.reset_request_counts()
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PROVIDERS_SCRIPT),
            name,
            str(plan_path),
            str(result_path),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_environment(),
        )
        try:
            code = await asyncio.wait_for(process.wait(), timeout)
        except BaseException as error:
            # A timeout here or a cancellation by the overall limit: never leave it running.
            if process.returncode is None:
                process.kill()
                await process.wait()
            if isinstance(error, TimeoutError):
                message = f"provider {name} did not finish within {timeout:.0f} s"
                raise TimeoutError(message) from None
            raise
    wall = time.monotonic() - started
    counts = await sim.request_counts()
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"provider {name} exited with code {code}:\n{tail}")

    result = json.loads(result_path.read_text(encoding="utf-8"))
    timeline = await sim.timeline()
    stamps = [{"namespace": ns, "name": pod, **marks} for (ns, pod), marks in timeline.items()]
    (workdir / f"{name}-timeline.json").write_text(json.dumps(stamps), encoding="utf-8")
    verdicts = judge(result["outcomes"], [want for _, want in workload], timeline, namespace)
    leftover = await sim.wait_empty(namespace, timeout=120)
    runspaces = len(workload)
    return {
        "api_requests": counts["total"],
        "api_requests_per_runspace": round(counts["total"] / runspaces, 2),
        "api_requests_by_verb": counts["byVerb"],
        "api_reads": sum(counts["byVerb"].get(verb, 0) for verb in READ_VERBS),
        "cpu_seconds": result["cpu_seconds"],
        "latency_ms": percentiles(verdicts["latencies_ms"]),
        "wrong_outcomes": sum(verdicts["wrong"].values()),
        "wrong_outcomes_by_kind": verdicts["wrong"],
        "peak_rss_mb": result["peak_rss_mb"],
        "wall_seconds": round(wall, 2),
        "outcomes": _tally(result["outcomes"]),
        "pods_left_after_cleanup": leftover,
    }


def target_ratios(providers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Return the ratios the targets in docs/benchmarks.md are stated in.

    Empty when `polling` or `runspaced` did not run. Request ratios are polling's count
    divided by runspaced's, so larger is better for runspaced. The latency ratio is
    runspaced's p99 divided by polling's p50, so smaller is better.
    """
    polling = providers.get("polling")
    ours = providers.get("runspaced")
    if polling is None or ours is None:
        return {}
    ratios: dict[str, Any] = {
        "requests_polling_over_runspaced": _ratio(polling["api_requests"], ours["api_requests"]),
        "reads_polling_over_runspaced": _ratio(polling["api_reads"], ours["api_reads"]),
        "runspaced_p99_over_polling_p50": _ratio(
            ours["latency_ms"]["p99"], polling["latency_ms"]["p50"], digits=3
        ),
    }
    per_waiter = providers.get("watch_per_waiter")
    if per_waiter is not None:
        ratios["fewer_requests_than_watch_per_waiter"] = (
            ours["api_requests"] < per_waiter["api_requests"]
        )
    return ratios


def _ratio(numerator: float | None, denominator: float | None, digits: int = 1) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


def _tally(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for outcome in outcomes:
        tally[outcome["outcome"]] = tally.get(outcome["outcome"], 0) + 1
    return tally


# -- the whole run ----------------------------------------------------------------------


async def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Start the simulator, run every requested provider and collect the results."""
    rng = random.Random(args.seed)
    scenario, catalogue = build_scenario(rng, images=64, failing_share=0.25)
    workload = build_workload(rng, catalogue, args.runspaces, args.failing_share)
    # Each pod requests 100m CPU (the engine's default) and a node has 4 CPUs, so a
    # node fits 40 of them; the spare nodes keep every pod schedulable at once.
    nodes = max(3, args.runspaces // 32 + 2)

    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = Path(args.workdir)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rs-compare-")))
        scenario_path = workdir / "scenario.yaml"
        scenario_path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
        providers: dict[str, Any] = {}
        async with SimProcess(
            workdir, time_scale=args.time_scale, scenario=scenario_path, nodes=nodes
        ) as sim:
            for name in args.providers:
                providers[name] = await run_provider(
                    sim,
                    name,
                    workload,
                    workdir,
                    deadline_s=args.deadline,
                    timeout=args.deadline + 120,
                )
                print(f"{name}: {json.dumps(providers[name])}", file=sys.stderr)

    return {
        "runspaces": args.runspaces,
        "providers": providers,
        "targets": target_ratios(providers),
        "settings": {
            "time_scale": args.time_scale,
            "failing_share": args.failing_share,
            "nodes": nodes,
            "seed": args.seed,
            "deadline_s": args.deadline,
            "quick": args.quick,
        },
        "machine": machine_info(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runspaces", type=int, default=500, help="runspaces per provider")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    parser.add_argument(
        "--quick", action="store_true", help="30 runspaces at time scale 0.2, for smoke tests"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulator time scale: multiplies every simulated delay (default 1.0)",
    )
    parser.add_argument(
        "--failing-share",
        type=float,
        default=0.15,
        help="share of runspaces whose image fails (default 0.15)",
    )
    parser.add_argument(
        "--providers",
        default=",".join(PROVIDER_NAMES),
        help=f"comma-separated subset of {', '.join(PROVIDER_NAMES)}",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=600.0,
        help="seconds each waiter waits before it reports a timeout (default 600)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="overall limit of the run in seconds (default 3600)",
    )
    parser.add_argument("--seed", type=int, default=20240501, help="random seed of the workload")
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="keep the scenario, plans, results, simulator timelines and logs in DIR"
        " (default: a temp dir)",
    )
    args = parser.parse_args(argv)

    args.providers = [name.strip() for name in args.providers.split(",") if name.strip()]
    unknown = set(args.providers) - set(PROVIDER_NAMES)
    if unknown:
        parser.error(f"unknown providers: {', '.join(sorted(unknown))}")
    if args.quick:
        args.runspaces = min(args.runspaces, 30)
        args.time_scale = 0.2
        args.deadline = min(args.deadline, 60.0)
        args.timeout = min(args.timeout, 120.0)
    if args.runspaces < 1:
        parser.error("--runspaces must be at least 1")
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)

    results = asyncio.run(asyncio.wait_for(compare(args), args.timeout))
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
