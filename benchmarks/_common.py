"""Helpers shared by the benchmark scripts: machine facts, statistics, output, logging."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

__all__ = [
    "REPO",
    "machine_info",
    "peak_rss_mb",
    "percentiles",
    "quiet_logging",
    "write_json",
]

REPO = Path(__file__).resolve().parent.parent


def quiet_logging() -> None:
    """Drop log events below WARNING, as a production deployment at level WARNING does.

    The engine logs every state change at INFO; printing them would measure the
    terminal, not the engine.
    """
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


_MEASURED_PACKAGES = ("kubernetes-asyncio", "aiohttp", "orjson", "msgspec", "anyio")


def _git_commit() -> str | None:
    """Return the checkout's HEAD commit, with ``-dirty`` for uncommitted changes, or None."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        status = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if status else head


def _git(*args: str) -> str:
    """Run git in this checkout and return its stripped stdout; raise if it fails."""
    repository = Path(__file__).resolve().parent.parent
    completed = subprocess.run(
        ["git", "-C", str(repository), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return completed.stdout.strip()


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _MEASURED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info() -> dict[str, Any]:
    """Return the facts that make a benchmark number reproducible.

    CPUs, memory, Python, the git commit of this checkout and the versions of the
    packages on the measured paths.
    """
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    memory_mb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_mb = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": memory_mb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git_commit(),
        "packages": _package_versions(),
    }


def percentiles(
    values: Sequence[float], points: Sequence[int] = (50, 95, 99)
) -> dict[str, float | None]:
    """Return nearest-rank percentiles as ``{"p50": ...}``; None for an empty sequence."""
    ordered = sorted(values)
    result: dict[str, float | None] = {}
    for point in points:
        if not ordered:
            result[f"p{point}"] = None
            continue
        rank = max(1, math.ceil(point / 100 * len(ordered)))
        result[f"p{point}"] = round(ordered[rank - 1], 3)
    return result


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_json(path: str | None, data: dict[str, Any]) -> None:
    """Print `data` as indented JSON and, when `path` is given, write it there too."""
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
    print(text)
    if path:
        Path(path).write_text(text + "\n", encoding="utf-8")
