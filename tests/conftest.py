"""Shared pytest fixtures for the runspaced test suite."""

from __future__ import annotations

import pytest

# The simulated-cluster fixtures (sim_cluster) and their marker.
pytest_plugins = ["runspaced.testing"]


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio only: kubernetes-asyncio needs asyncio."""
    return "asyncio"
