"""Hot-path benchmark: event throughput, memory per runspace and sync time of the engine.

Usage::

    python benchmarks/hotpath.py [--json PATH] [--quick]

Three measurements, each against the way a typical kubernetes-asyncio provider works:

1. Events per CPU second through the engine's watch path: `ResourceWatch._handle_line`
   decodes each line with `decode_pod_event` (msgspec, keeping only the fields the
   engine reads), `pod_record` classifies it into a slim record and the
   engine's `PodFeed` sink applies it to the runspace state machines. The baseline is
   kubernetes-asyncio's `Watch.unmarshal_event(line, "V1Pod")` on the same lines: JSON
   decoding and model deserialization, nothing else.
   The decoding step is also timed alone, against `orjson.loads` of the whole line.
2. Bytes of Python heap (tracemalloc) per tracked runspace with 10,000 runspaces fed
   through the same path, against keeping the latest full pod dict of each pod.
3. Seconds from entering a `RunspaceEngine` to `wait_synced()` against a simulated
   cluster that already holds 10,000 runspaced pods (see `_sync.py`).

`--quick` shrinks every size so the run ends within about 30 seconds; its numbers are
for checking that the script works, not for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, quiet_logging, write_json
from _podstream import PodStream

from runspaced import RunspaceEngine
from runspaced._engine.feeds import pod_watch
from runspaced._kube.watch import ResourceWatch
from runspaced._state.records import PodRecord, decode_pod_event

NAMESPACE = "bench"


def engine_watch(engine: RunspaceEngine) -> ResourceWatch[PodRecord]:
    """Return a pod watch wired to `engine` exactly as the engine wires its own.

    The transport is never used: the benchmark calls the line handler directly, which
    is what the watch does for every line it reads from the stream.
    """
    return pod_watch(engine, None)  # type: ignore[arg-type]


def run_engine_path(lines: Sequence[bytes]) -> float:
    """Feed every line through a fresh engine's watch path; return the CPU seconds it took."""
    engine = RunspaceEngine(None, namespace=NAMESPACE)
    watch = engine_watch(engine)
    handle = watch._handle_line
    resource_version = "0"
    started = time.process_time()
    for line in lines:
        resource_version = handle(line, resource_version)
    elapsed = time.process_time() - started
    if watch.stats.events != len(lines):
        raise RuntimeError(f"engine path applied {watch.stats.events} of {len(lines)} events")
    return elapsed


def run_model_path(watch: Any, lines: Sequence[bytes]) -> float:
    """Deserialize every line into a V1Pod as kubernetes-asyncio's Watch does; return CPU seconds."""
    unmarshal = watch.unmarshal_event
    started = time.process_time()
    for line in lines:
        event = unmarshal(line, "V1Pod")
        if event["object"].metadata is None:
            raise RuntimeError("kubernetes-asyncio returned a pod without metadata")
    return time.process_time() - started


def recorded_stream(pods: int) -> list[bytes]:
    """Return the watch lines of `pods` pod lifecycles, without their newlines."""
    return [line.rstrip(b"\n") for line in PodStream(seed=7).iter_lines(pods)]


async def measure_events_per_second(lines: Sequence[bytes], repeats: int) -> dict[str, Any]:
    """Compare the engine's watch path with V1Pod deserialization on one recorded stream.

    The two paths run alternately, `repeats` times each, so load from other processes
    hits both alike. Rates are events per CPU second of this process (the median run
    of each path), which other processes on the machine disturb less than wall time.
    """
    from kubernetes_asyncio.watch import Watch

    engine_seconds: list[float] = []
    model_seconds: list[float] = []
    watch = Watch()
    try:
        for _ in range(repeats):
            engine_seconds.append(run_engine_path(lines))
            model_seconds.append(run_model_path(watch, lines))
    finally:
        await watch.close()

    engine_rate = len(lines) / statistics.median(engine_seconds)
    model_rate = len(lines) / statistics.median(model_seconds)
    return {
        "runspaced": round(engine_rate, 1),
        "kubernetes_asyncio_models": round(model_rate, 1),
        "ratio": round(engine_rate / model_rate, 1),
        "events": len(lines),
        "repeats": repeats,
        "mean_event_bytes": round(sum(map(len, lines)) / len(lines)),
    }


def measure_decode_microseconds(lines: Sequence[bytes], repeats: int) -> dict[str, Any]:
    """Time decoding alone: orjson on the whole line against the engine's pruned decode.

    Returns microseconds of CPU per line, the best of `repeats` runs of each decoder
    over the same stream as `measure_events_per_second`.
    """
    import orjson

    def best_microseconds(decode: Callable[[bytes], object]) -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            for line in lines:
                decode(line)
            best = min(best, time.process_time() - started)
        return round(best / len(lines) * 1e6, 2)

    return {
        "orjson_whole_line": best_microseconds(orjson.loads),
        "runspaced_decode_pod_event": best_microseconds(decode_pod_event),
        "events": len(lines),
    }


def traced_bytes(build: Callable[[], object]) -> tuple[int, object]:
    """Return the heap bytes still allocated by `build()` after it returns, and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept


def measure_bytes_per_runspace(pods: int) -> dict[str, Any]:
    """Track `pods` runspaces through the engine's feed; compare with full pod dicts.

    The stream (ADDED through each pod's outcome, no deletions) is written to a temp
    file first, so only what the consumer keeps is counted, not the input.
    """
    import orjson

    with tempfile.TemporaryDirectory(prefix="runspaced-bench-") as directory:
        path = Path(directory) / "pods.jsonl"
        with path.open("wb") as stream:
            for line in PodStream(seed=11).iter_lines(pods, deletions=False):
                stream.write(line)

        def track_in_engine() -> object:
            engine = RunspaceEngine(None, namespace=NAMESPACE)
            watch = engine_watch(engine)
            resource_version = "0"
            with path.open("rb") as lines:
                for line in lines:
                    resource_version = watch._handle_line(line.rstrip(b"\n"), resource_version)
            if len(engine._runspaces) != pods:
                raise RuntimeError(f"engine tracks {len(engine._runspaces)} of {pods} pods")
            return engine

        def keep_pod_dicts() -> object:
            latest: dict[str, Any] = {}
            with path.open("rb") as lines:
                for line in lines:
                    pod = orjson.loads(line)["object"]
                    latest[pod["metadata"]["name"]] = pod
            return latest

        engine_bytes, engine = traced_bytes(track_in_engine)
        del engine
        dict_bytes, latest = traced_bytes(keep_pod_dicts)
        del latest
    return {
        "runspaced": round(engine_bytes / pods),
        "full_pod_dicts": round(dict_bytes / pods),
        "tracked": pods,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a smoke run of about 30 seconds"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="overall limit in seconds (default 900)"
    )
    args = parser.parse_args(argv)
    quiet_logging()

    stream_pods = 200 if args.quick else 1000
    repeats = 1 if args.quick else 5
    tracked = 500 if args.quick else 10_000
    sync_pods = 300 if args.quick else 10_000

    async def measure() -> dict[str, Any]:
        # The engine builds anyio primitives, so everything runs inside an event loop.
        from _sync import measure_sync_seconds

        lines = recorded_stream(stream_pods)
        results: dict[str, Any] = {
            "events_per_second": await measure_events_per_second(lines, repeats),
            "decode_microseconds_per_event": measure_decode_microseconds(lines, repeats),
            "bytes_per_runspace": measure_bytes_per_runspace(tracked),
        }
        sync = await measure_sync_seconds(sync_pods)
        results["sync_seconds_10k"] = sync["seconds"]
        results["sync"] = sync
        results["quick"] = args.quick
        results["machine"] = machine_info()
        return results

    results = asyncio.run(asyncio.wait_for(measure(), args.timeout))
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
