"""Fixtures that start an engine against the simulated cluster over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from runspaced import RunspaceEngine
from runspaced.sim.cluster import SimCluster

# Short watch timings so that restarts, stalls and back-off happen within a test.
FAST_SETTINGS: dict[str, Any] = {
    "backoff_base": 0.05,
    "backoff_cap": 0.3,
    "stall_timeout": 5.0,
    "scheduling_timeout": 5.0,
    "creation_timeout": 30.0,
}

EngineFactory = Callable[..., AbstractAsyncContextManager[RunspaceEngine]]


@pytest.fixture
def engine_factory(sim_cluster: SimCluster) -> EngineFactory:
    """Return a function that opens an engine on the fixture's cluster with fast settings."""

    def open_engine(**settings: Any) -> AbstractAsyncContextManager[RunspaceEngine]:
        return RunspaceEngine.from_kubeconfig(
            path=sim_cluster.kubeconfig_path, **{**FAST_SETTINGS, **settings}
        )

    return open_engine


@pytest.fixture
async def engine(engine_factory: EngineFactory) -> AsyncIterator[RunspaceEngine]:
    """A synced engine on the simulated cluster."""
    async with engine_factory() as running:
        await running.wait_synced(10)
        yield running
