"""Fixtures that run the daemon as a real HTTP server over the simulated cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .harness import RunningDaemon, start_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    """A daemon with the test profiles and bearer token authentication."""
    running = start_daemon(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def http(daemon: RunningDaemon) -> Iterator[httpx.Client]:
    """An authenticated httpx client for `daemon`."""
    with daemon.client() as client:
        yield client


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """One daemon for a whole module, for tests that do not depend on what others created."""
    running = start_daemon(tmp_path_factory.mktemp("daemon"))
    yield running
    running.stop()


@pytest.fixture
def shared_http(shared_daemon: RunningDaemon) -> Iterator[httpx.Client]:
    """An authenticated httpx client for `shared_daemon`."""
    with shared_daemon.client() as client:
        yield client
