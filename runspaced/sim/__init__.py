"""Simulated Kubernetes cluster: a core/v1 API server over real HTTP plus simulated nodes.

`runspaced.sim` imports nothing from the engine, so the engine's tests talk to it through
the real kubernetes-asyncio client exactly as they would talk to a cluster.

- `store`: objects, the global resourceVersion, the change history and watcher feeds.
- `server`, `api`, `admin`: the HTTP API server and the /_sim/ admin routes.
- `faults`: fault injection. `cluster`: `SimCluster`, which runs all of it.
- `nodes`, `scheduler`, `kubelet`: the node half that schedules and runs pods.
"""

from .cluster import SimCluster
from .counters import RequestCounters
from .faults import Faults
from .store import AlreadyExists, Expired, HistoryEntry, ObjectStore, StoreError, Subscription

__all__ = [
    "AlreadyExists",
    "Expired",
    "Faults",
    "HistoryEntry",
    "ObjectStore",
    "RequestCounters",
    "SimCluster",
    "StoreError",
    "Subscription",
]
