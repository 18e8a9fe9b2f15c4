"""Shared pytest fixtures for the runspaced test suite."""

from __future__ import annotations

import pytest
import structlog

# The simulated-cluster fixtures (sim_cluster) and their marker.
pytest_plugins = ["runspaced.testing"]


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio only: kubernetes-asyncio needs asyncio."""
    return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    """Send log events through the standard library's logging while the tests run.

    structlog's default prints every event to stdout. Events from background tasks that
    outlive their test then appeared between pytest's progress dots. Through logging,
    pytest captures them and shows warnings and errors in a failing test's report.
    `structlog.testing.capture_logs` still captures every event, debug and info included,
    because it replaces the processors before the standard library's level applies.
    """
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
