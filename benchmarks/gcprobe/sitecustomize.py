"""Log garbage collections longer than 20 ms, for finding event-loop pauses.

Put this directory first on PYTHONPATH and every Python process started with it
imports this module at startup, the simulator and the provider children of
``compare.py`` included. Each process appends one line per long collection to
``$RUNSPACED_GC_LOG_DIR/gc-<pid>.log`` (the system temp directory by default)::

    PYTHONPATH=benchmarks/gcprobe python benchmarks/compare.py --runspaces 2000 \\
        --providers runspaced --workdir /tmp/rs2000

Each line contains the wall time, the generation, the pause in milliseconds, the objects
collected and the process's command line. ``RUNSPACED_GC_LOG_MS`` changes the 20 ms
threshold (0 logs every collection).
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_THRESHOLD_SECONDS = float(os.environ.get("RUNSPACED_GC_LOG_MS") or 20) / 1000
_log_path = Path(os.environ.get("RUNSPACED_GC_LOG_DIR") or tempfile.gettempdir()) / (
    f"gc-{os.getpid()}.log"
)
_started_at = 0.0


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    global _started_at
    if phase == "start":
        _started_at = time.perf_counter()
        return
    pause = time.perf_counter() - _started_at
    if pause < _THRESHOLD_SECONDS:
        return
    command = " ".join(sys.argv[:3])
    with _log_path.open("a", encoding="utf-8") as log:
        log.write(
            f"{time.time():.3f} gen{info['generation']} {pause * 1000:.1f}ms"
            f" collected={info['collected']} argv={command}\n"
        )


gc.callbacks.append(_on_collection)
