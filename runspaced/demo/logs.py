"""structlog set-up for the demo, so engine logs do not garble the live view.

With ``--verbose`` every event from INFO up goes to stderr. Otherwise only WARNING and
above are kept: printed to stderr at once in plain and JSON mode, and held back in live
mode until the table is finished, then printed below it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

__all__ = ["demo_logging"]


class _HeldLogger:
    """A structlog logger that appends rendered lines to a list."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def msg(self, message: str) -> None:
        self._lines.append(message)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


@contextmanager
def demo_logging(*, verbose: bool, hold: bool, stream: TextIO | None = None) -> Iterator[None]:
    """Configure structlog for the duration of the block, then restore the previous set-up.

    `hold` keeps the log lines until the block ends (for the live view); `stream`
    defaults to sys.stderr. Log lines are rendered as key=value text.
    """
    target = stream if stream is not None else sys.stderr
    previous = structlog.get_config()
    held: list[str] = []
    level = "info" if verbose else "warning"
    logger_factory: Any
    if hold:
        logger_factory = lambda *args: _HeldLogger(held)  # noqa: E731
    else:
        logger_factory = structlog.PrintLoggerFactory(file=target)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**previous)
        for line in held:
            target.write(line + "\n")
        target.flush()
