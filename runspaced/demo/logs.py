"""Logging set-up for the demo, so engine and library logs do not garble the live view.

With ``--verbose`` every event from INFO up goes to stderr. Otherwise only WARNING and
above are kept: printed to stderr at once in plain and JSON mode, and held back in live
mode until the table is finished, then printed below it. The same applies to records of
the standard `logging` module (aiohttp and kubernetes-asyncio log there).
"""

from __future__ import annotations

import logging
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


class _LinesHandler(logging.Handler):
    """A `logging` handler that appends formatted records to a list, or writes them out."""

    def __init__(self, lines: list[str] | None, stream: TextIO, level: int) -> None:
        super().__init__(level)
        self._lines = lines
        self._stream = stream
        self.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if self._lines is not None:
            self._lines.append(text)
        else:
            self._stream.write(text + "\n")


@contextmanager
def demo_logging(*, verbose: bool, hold: bool, stream: TextIO | None = None) -> Iterator[None]:
    """Configure structlog and `logging` for the duration of the block, then restore them.

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
    root = logging.getLogger()
    handler = _LinesHandler(
        held if hold else None, target, logging.INFO if verbose else logging.WARNING
    )
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(min(previous_level or logging.WARNING, handler.level))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        structlog.configure(**previous)
        for line in held:
            target.write(line + "\n")
        target.flush()
