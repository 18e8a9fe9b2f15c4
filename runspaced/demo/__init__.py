"""``runspaced demo``: runspaces on an embedded simulated cluster, shown live, then checked.

The demo starts the simulated cluster in this process and runs a `RunspaceEngine` on
it. It creates a mix of runspaces: most start, and one each has an image that does not
exist, an invalid image name, a container that crashes, or a cpu request no node can
meet. It sends ``GET /`` to every ready endpoint, deletes everything, lists the pods
through the API to confirm none is left, and prints a summary (or JSON with ``--json``).

Exit status: 0 when every runspace ended as its image should and no pod is left,
1 otherwise (the problems go to stderr), 2 for invalid arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import anyio
import orjson

from .live import LiveView, PlainView, View
from .logs import demo_logging
from .outcomes import DemoResult
from .report import json_document, summary_text
from .runner import DemoOptions, run_demo
from .workload import build_workload

__all__ = ["configure", "run"]

DEFAULT_RUNSPACES = 12
MAX_RUNSPACES = 200
DEFAULT_TIME_SCALE = 0.5
SCHEDULING_TIMEOUT_SECONDS = 3.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to `parser`."""
    parser.add_argument(
        "--runspaces",
        type=_runspace_count,
        default=DEFAULT_RUNSPACES,
        metavar="N",
        help=f"number of runspaces to create, 1 to {MAX_RUNSPACES} (default {DEFAULT_RUNSPACES})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document at the end instead of the live view and summary",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="YAML scenario that overrides the simulator's image behaviour",
    )
    parser.add_argument(
        "--time-scale",
        type=_positive_float,
        default=DEFAULT_TIME_SCALE,
        metavar="X",
        help="factor applied to the simulator's delays: pulls, starts, back-offs "
        f"(default {DEFAULT_TIME_SCALE:g}; 1 is the simulator's real-time pace)",
    )
    parser.add_argument(
        "--scheduling-timeout",
        type=_positive_float,
        default=SCHEDULING_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long the runspace that requests too much cpu may stay Unschedulable "
        f"before it fails (default {SCHEDULING_TIMEOUT_SECONDS:g}); not time-scaled",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="print one line per transition even on a terminal",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print engine and simulator logs from INFO up on stderr",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo with parsed `args`; return the exit status."""
    return main_with(args, stdout=sys.stdout, stderr=sys.stderr)


def main_with(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Run the demo writing to the given streams; return the exit status (0, 1 or 2)."""
    from ..sim.scenario import InvalidScenario, Scenario

    scenario: Scenario | None = None
    if args.scenario is not None:
        try:
            scenario = Scenario.from_file(args.scenario)
        except FileNotFoundError:
            stderr.write(f"runspaced demo: scenario file not found: {args.scenario}\n")
            return 2
        except (OSError, InvalidScenario) as error:
            stderr.write(f"runspaced demo: invalid scenario {args.scenario}: {error}\n")
            return 2

    cases = tuple(build_workload(args.runspaces, scheduling_timeout=args.scheduling_timeout))
    # The default limits keep a default run under 30 s in total, and grow with the
    # time scale so a slowed-down simulation is not cut short.
    options = DemoOptions(
        cases=cases,
        time_scale=args.time_scale,
        scenario=scenario,
        deadline=max(20.0, 40.0 * args.time_scale),
        creation_timeout=max(15.0, 30.0 * args.time_scale),
        delete_timeout=max(5.0, 10.0 * args.time_scale),
    )
    live = not args.json and not args.plain and stdout.isatty()
    view = _choose_view(args, stdout, live=live)

    with demo_logging(verbose=args.verbose, hold=live, stream=stderr):
        try:
            result = anyio.run(run_demo, options, view, backend="asyncio")
        finally:
            view.finish()

    return _report(result, args, stdout=stdout, stderr=stderr)


def _choose_view(args: argparse.Namespace, stdout: TextIO, *, live: bool) -> View:
    if args.json:
        return _SilentView()
    if live:
        title = f"runspaced demo: {args.runspaces} runspaces on a simulated cluster"
        return LiveView(stdout, title=title)
    return PlainView(stdout)


def _report(result: DemoResult, args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    problems = result.problems()
    if args.json:
        stdout.write(orjson.dumps(json_document(result), option=orjson.OPT_INDENT_2).decode())
        stdout.write("\n")
    else:
        stdout.write("\n" + summary_text(result) + "\n")
    stdout.flush()

    if problems:
        stderr.write("runspaced demo: the run did not go as expected:\n")
        for problem in problems:
            stderr.write(f"  - {problem}\n")
        stderr.flush()
        return 1
    return 0


class _SilentView:
    """The view for ``--json``: shows nothing, so stdout holds only the document."""

    def update(self, change: object) -> None:
        return None

    def probed(self, runspace_id: str, result: object) -> None:
        return None

    def stage(self, text: str) -> None:
        return None

    async def run(self) -> None:
        return None

    def finish(self) -> None:
        return None


def _runspace_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid runspace count {text!r}: not an integer"
        ) from None
    if not 1 <= value <= MAX_RUNSPACES:
        raise argparse.ArgumentTypeError(
            f"invalid runspace count {value}: must be from 1 to {MAX_RUNSPACES}"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid value {text}: must be a positive number")
    return value
