"""runspaced: isolated Kubernetes pods (runspaces) on demand, with event-driven readiness.

Layers, each importing only the ones below it:

- `runspaced._types`, `runspaced._errors`: immutable values and exceptions.
- `runspaced._state`: the pod classifier, slim pod records and the per-runspace state
  machine. Pure, no I/O.
- `runspaced._kube`: the only package that talks to the Kubernetes API (pod requests,
  the shared list-then-watch).
- `runspaced._engine`: `RunspaceEngine`, the facade that joins the watch, the state
  machines and the waiters.
- `runspaced._daemon`, `runspaced.demo`, `runspaced.cli`: the ways in.

`runspaced.sim` is the simulated cluster. It speaks the Kubernetes API over HTTP and
imports nothing from the engine.
"""

from ._engine import EngineHealth, EngineSettings, RunspaceEngine
from ._errors import (
    EngineClosed,
    RunspaceApiError,
    RunspaceError,
    RunspaceFailed,
    RunspaceNotFound,
    RunspaceTimeout,
)
from ._state.classify import classify_pod
from ._types import (
    Endpoint,
    Phase,
    Resources,
    RunspaceChange,
    RunspaceInfo,
    RunspaceSpec,
    RunspaceState,
    Verdict,
)

__all__ = [
    "Endpoint",
    "EngineClosed",
    "EngineHealth",
    "EngineSettings",
    "Phase",
    "Resources",
    "RunspaceApiError",
    "RunspaceChange",
    "RunspaceEngine",
    "RunspaceError",
    "RunspaceFailed",
    "RunspaceInfo",
    "RunspaceNotFound",
    "RunspaceSpec",
    "RunspaceState",
    "RunspaceTimeout",
    "Verdict",
    "classify_pod",
]

__version__ = "0.1.0"
