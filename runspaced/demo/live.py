"""Two ways to show the demo's progress: a live table on a terminal, plain lines elsewhere.

`LiveView` keeps one line per runspace and redraws the table in place with ANSI
cursor movement (no curses). `PlainView` prints one line per state or phase change,
for logs and pipes. Both take `RunspaceChange`s from `RunspaceEngine.changes()` and the
demo's own endpoint checks.
"""

from __future__ import annotations

import shutil
import time
from typing import Protocol, TextIO

import anyio

from .. import RunspaceChange, RunspaceInfo, RunspaceState
from .probe import ProbeResult

__all__ = ["LiveView", "PlainView", "View", "describe"]

_REFRESH_SECONDS = 0.1

_RESET = "\x1b[0m"
_COLOURS = {
    RunspaceState.CREATING: "\x1b[33m",  # yellow
    RunspaceState.READY: "\x1b[32m",  # green
    RunspaceState.ERROR: "\x1b[31m",  # red
    RunspaceState.TIMEOUT: "\x1b[31m",
    RunspaceState.TERMINATING: "\x1b[36m",  # cyan
    RunspaceState.DELETED: "\x1b[2m",  # dim
}


class View(Protocol):
    """Receiver of the demo's progress: engine changes, probe results and steps."""

    def update(self, change: RunspaceChange) -> None:
        """Take one change from the engine."""

    def probed(self, runspace_id: str, result: ProbeResult) -> None:
        """Take the result of the demo's own ``GET /`` on a ready runspace."""

    def stage(self, text: str) -> None:
        """Announce a step of the demo (creating, deleting, checking)."""

    async def run(self) -> None:
        """Redraw until cancelled; views that print at once return immediately."""

    def finish(self) -> None:
        """Draw the final state and leave the terminal as it was."""


def describe(info: RunspaceInfo, probe: ProbeResult | None = None) -> str:
    """Return the most telling text about a runspace: probe response, reason or latest Event."""
    if probe is not None:
        return f"GET http://{probe.endpoint}/ -> {probe.describe()}"
    # A failed runspace keeps its reason through TERMINATING and DELETED.
    if info.state is not RunspaceState.CREATING and info.reason:
        return f"{info.reason}: {info.message}" if info.message else info.reason
    if info.state is RunspaceState.READY and info.endpoint is not None:
        return f"endpoint {info.endpoint}"
    if info.detail:
        return info.detail
    if info.reason:
        return f"{info.reason}: {info.message}" if info.message else info.reason
    return ""


class PlainView:
    """One line per state or phase change, with seconds since the view started."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()

    def _write(self, text: str) -> None:
        elapsed = time.monotonic() - self._started
        self._stream.write(f"{elapsed:7.3f}s  {text}\n")
        self._stream.flush()

    def update(self, change: RunspaceChange) -> None:
        info = change.info
        previous = change.previous
        if previous is not None and (previous.state, previous.phase) == (info.state, info.phase):
            return
        detail = describe(info)
        line = f"{info.id:<14} {info.state.value:<11} {info.phase.value:<12} {info.image}"
        self._write(f"{line}  {detail}" if detail else line)

    def probed(self, runspace_id: str, result: ProbeResult) -> None:
        self._write(
            f"{runspace_id:<14} probed      GET http://{result.endpoint}/ -> {result.describe()}"
        )

    def stage(self, text: str) -> None:
        self._write(f"-- {text}")

    async def run(self) -> None:
        return None

    def finish(self) -> None:
        self._stream.flush()


class LiveView:
    """A table of runspaces redrawn in place on a terminal, ten times a second.

    Lines are cut to the terminal width, because a wrapped line would break the
    cursor arithmetic. `finish()` must run (it shows the cursor again).
    """

    def __init__(self, stream: TextIO, *, title: str, colour: bool = True) -> None:
        self._stream = stream
        self._title = title
        self._colour = colour
        self._started = time.monotonic()
        self._rows: dict[str, RunspaceInfo] = {}
        self._probes: dict[str, ProbeResult] = {}
        self._stage = "starting"
        self._drawn_lines = 0
        self._cursor_hidden = False

    def update(self, change: RunspaceChange) -> None:
        self._rows[change.info.id] = change.info

    def probed(self, runspace_id: str, result: ProbeResult) -> None:
        self._probes[runspace_id] = result

    def stage(self, text: str) -> None:
        self._stage = text
        if not self._drawn_lines:
            self.draw()

    async def run(self) -> None:
        # Redraw on every tick, changed or not, so the elapsed time keeps moving.
        while True:
            self.draw()
            await anyio.sleep(_REFRESH_SECONDS)

    def finish(self) -> None:
        self.draw()
        if self._cursor_hidden:
            self._stream.write("\x1b[?25h")
            self._cursor_hidden = False
        self._stream.flush()

    def lines(self, width: int, height: int | None = None) -> list[str]:
        """Return the table as lines of at most `width` visible characters.

        With `height`, at most that many lines: runspaces that do not fit are counted
        on a last line instead, those not yet DELETED shown first. The cursor cannot
        move above the top of the screen, so a taller table could not be redrawn.
        """
        elapsed = time.monotonic() - self._started
        counts: dict[str, int] = {}
        for info in self._rows.values():
            counts[info.state.value] = counts.get(info.state.value, 0) + 1
        tally = ", ".join(f"{count} {state}" for state, count in counts.items())
        header = f"{self._title}  {elapsed:5.1f}s  {self._stage}"
        result = [_cut(header, width), _cut(f"  {tally}", width), ""]

        rows = list(self._rows.values())
        room = len(rows) if height is None else max(1, height - len(result))
        if len(rows) > room:
            rows.sort(key=lambda info: info.state is RunspaceState.DELETED)
            hidden = len(rows) - (room - 1)
            rows = rows[: room - 1]
        else:
            hidden = 0
        for info in rows:
            result.append(self._row(info, self._probes.get(info.id), width))
        if hidden:
            result.append(_cut(f"  ... and {hidden} more (all are in the summary)", width))
        return result

    def draw(self) -> None:
        """Redraw the whole table over the previous one."""
        size = shutil.get_terminal_size((100, 24))
        lines = self.lines(max(20, size.columns - 1), max(5, size.lines - 1))
        parts: list[str] = []
        if not self._cursor_hidden:
            parts.append("\x1b[?25l")
            self._cursor_hidden = True
        if self._drawn_lines:
            # Back to the first column of the table's first line.
            parts.append(f"\x1b[{self._drawn_lines}F")
        for line in lines:
            parts.append(f"\x1b[2K{line}\n")
        self._stream.write("".join(parts))
        self._stream.flush()
        self._drawn_lines = len(lines)

    def _row(self, info: RunspaceInfo, probe: ProbeResult | None, width: int) -> str:
        image = _cut(info.image, 28)
        prefix = f"  {info.id:<12} {image:<28} "
        state = f"{info.state.value:<11}"
        rest = f" {info.phase.value:<12} {describe(info, probe)}"
        room = width - len(prefix) - len(state)
        if room < 0:
            return _cut(prefix + state, width)
        if self._colour:
            state = f"{_COLOURS[info.state]}{state}{_RESET}"
        return prefix + state + _cut(rest, room)


def _cut(text: str, width: int) -> str:
    """Cut `text` to `width` characters, marking a cut with an ellipsis."""
    text = text.replace("\n", " ")
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"
