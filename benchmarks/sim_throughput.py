"""Measure the simulated API server: 10,000 stored pods, pod events per second to one watcher.

The simulator runs in a child process (this script with ``--serve``). It stores
``--pods`` pods directly in its object store, without the node simulation, so the
numbers are the API server's alone. The parent process then:

1. lists every pod over raw HTTP, then through kubernetes-asyncio (one request, then
   pages of 500; most of that time is the client's model deserialization),
2. opens one raw-HTTP watch from the list's resourceVersion,
3. signals the child over stdin to change pods at ``--rate`` per second for ``--seconds``,
4. counts the MODIFIED events the watcher receives, and the delay between the change
   in the store and the event's arrival (both clocks are the same host's time.time()).

Run: ``/work/venv/bin/python benchmarks/sim_throughput.py --pods 10000 --rate 1000``.
Exit status 1 when the watcher received fewer events than the child made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

SENT_ANNOTATION = "bench.runspaced.dev/sent"
_SCRIPT = str(Path(__file__).resolve())


class _IdleNodes:
    """A node half that does nothing, so only the API server is measured."""

    def __init__(self, store: Any, **_: Any) -> None:
        self.store = store

    async def run(self) -> None:
        await asyncio.Event().wait()

    def evict(self, namespace: str, name: str, message: str | None = None) -> bool:
        return False

    @property
    def timeline(self) -> Mapping[tuple[str, str], Mapping[str, float]]:
        return {}


def _pod(index: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"bench-{index:05d}", "labels": {"app": "bench"}},
        "spec": {
            "nodeName": "bench-node",
            "containers": [{"name": "main", "image": "nginx:1.27"}],
            "restartPolicy": "Always",
        },
        "status": {"phase": "Running", "qosClass": "BestEffort"},
    }


async def serve(args: argparse.Namespace) -> None:
    """Child: run the simulator, preload pods, start the changes when stdin sends a line."""
    from runspaced.sim import SimCluster

    cluster = SimCluster(
        node_factory=_IdleNodes,
        history_size=max(args.rate * args.seconds * 2, 10_000),
        kubeconfig_path=Path(args.workdir) / "kubeconfig",
    )
    async with cluster:
        for index in range(args.pods):
            cluster.store.create("pods", "default", _pod(index))
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"ready": True, "url": cluster.url, "rss_mib": round(rss_mib, 1)}))
        sys.stdout.flush()

        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.readline()

        total = args.rate * args.seconds
        started = loop.time()
        changes_made = 0
        while changes_made < total:
            # Catch up to the schedule in small batches: rate changes per second overall.
            due = min(int((loop.time() - started) * args.rate) + 1, total)
            while changes_made < due:
                name = f"bench-{changes_made % args.pods:05d}"
                sent = repr(time.time())

                def mark(obj: dict[str, Any], sent: str = sent) -> None:
                    obj["metadata"].setdefault("annotations", {})[SENT_ANNOTATION] = sent

                cluster.store.update("pods", "default", name, mark)
                changes_made += 1
            await asyncio.sleep(0.005)
        elapsed = loop.time() - started
        print(json.dumps({"made": changes_made, "make_seconds": round(elapsed, 3)}))
        sys.stdout.flush()
        await reader.readline()


async def measure(args: argparse.Namespace) -> int:
    """Parent: start the child, list, watch, report."""
    from kubernetes_asyncio import client, config

    with tempfile.TemporaryDirectory(prefix="sim-bench-") as workdir:
        child = await asyncio.create_subprocess_exec(
            sys.executable, _SCRIPT, "--serve", "--workdir", workdir,
            "--pods", str(args.pods), "--rate", str(args.rate), "--seconds", str(args.seconds),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert child.stdout is not None and child.stdin is not None
        while True:
            line = await asyncio.wait_for(child.stdout.readline(), 120)
            if not line:
                raise RuntimeError("the simulator process exited before it was ready")
            if line.startswith(b"{"):
                ready = json.loads(line)
                break
        kubeconfig = Path(workdir) / "kubeconfig"
        token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        url = ready["url"]

        # 1. Lists: raw HTTP (the server's share), then through the real client.
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            async with session.get(
                f"{url}/api/v1/namespaces/default/pods", headers=headers
            ) as response:
                raw_items = len(orjson.loads(await response.read())["items"])
            raw_list_seconds = time.perf_counter() - started

        api = await config.new_client_from_config(config_file=str(kubeconfig))
        core = client.CoreV1Api(api)
        started = time.perf_counter()
        full = await core.list_namespaced_pod("default")
        list_seconds = time.perf_counter() - started
        started = time.perf_counter()
        paged, token_continue = 0, None
        while True:
            page = await core.list_namespaced_pod("default", limit=500, _continue=token_continue)
            paged += len(page.items)
            token_continue = page.metadata._continue
            if not token_continue:
                break
        paged_seconds = time.perf_counter() - started
        await api.close()
        list_rv = full.metadata.resource_version

        # 2-4. One raw watch; count MODIFIED events and their delay.
        total = args.rate * args.seconds
        delays: list[float] = []
        params = {"watch": "true", "resourceVersion": list_rv, "timeoutSeconds": "600"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                f"{url}/api/v1/namespaces/default/pods", params=params, headers=headers
            ) as response,
        ):
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            first_at = None
            async for raw in response.content:
                now = time.time()
                event = orjson.loads(raw)
                if event["type"] != "MODIFIED":
                    continue
                first_at = first_at or time.perf_counter()
                sent = float(event["object"]["metadata"]["annotations"][SENT_ANNOTATION])
                delays.append(now - sent)
                if len(delays) >= total:
                    break
            watch_seconds = time.perf_counter() - (first_at or time.perf_counter())
        child_report = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
        child.stdin.write(b"stop\n")
        await child.stdin.drain()
        await asyncio.wait_for(child.wait(), 60)

    delays.sort()
    result = {
        "pods": args.pods,
        "list_items": len(full.items),
        "raw_http_list_items": raw_items,
        "raw_http_list_seconds": round(raw_list_seconds, 3),
        "client_list_all_seconds": round(list_seconds, 3),
        "client_list_paged_500_seconds": round(paged_seconds, 3),
        "paged_items": paged,
        "sim_rss_mib_after_preload": ready["rss_mib"],
        "target_rate_per_s": args.rate,
        "events_made": child_report["made"],
        "make_seconds": child_report["make_seconds"],
        "events_received": len(delays),
        "received_rate_per_s": round(len(delays) / max(watch_seconds, 1e-9), 1),
        "delay_p50_ms": round(statistics.median(delays) * 1000, 2) if delays else None,
        "delay_p99_ms": round(delays[int(len(delays) * 0.99) - 1] * 1000, 2) if delays else None,
        "delay_max_ms": round(delays[-1] * 1000, 2) if delays else None,
    }
    print(json.dumps(result, indent=2))
    return 0 if len(delays) >= total else 1


def main() -> int:
    """Parse the options and run the parent or the child role."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=10_000, help="pods to store (default 10000)")
    parser.add_argument("--rate", type=int, default=1000, help="pod changes per second")
    parser.add_argument("--seconds", type=int, default=10, help="how long to make changes")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return 0
    return asyncio.run(measure(args))


if __name__ == "__main__":
    sys.exit(main())
