"""Simulated Kubernetes cluster: a core/v1 API server over real HTTP plus simulated nodes.

`runspaced.sim` imports nothing from the engine, so the engine's tests talk to it through
the real kubernetes-asyncio client exactly as they would talk to a cluster.
"""

from .store import AlreadyExists, Expired, HistoryEntry, ObjectStore, StoreError, Subscription

__all__ = [
    "AlreadyExists",
    "Expired",
    "HistoryEntry",
    "ObjectStore",
    "StoreError",
    "Subscription",
]
