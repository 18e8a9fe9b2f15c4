"""Command-line entry point: ``runspaced COMMAND ...``.

Each command lives in its own module, which exposes ``configure(parser)`` to add its
arguments and ``run(args) -> int`` to execute it. Only the chosen command's module is
imported, so ``runspaced --help`` stays fast and one broken command cannot break the rest.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol, cast

__all__ = ["main"]


class _Command(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# Command name -> (module, one-line help).
_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("runspaced.demo", "create runspaces on an embedded simulated cluster and report"),
    "sim": ("runspaced.sim.cli", "run the simulated Kubernetes cluster in the foreground"),
    "serve": ("runspaced._daemon.cli", "run the sidecar daemon (HTTP API)"),
    "create": ("runspaced._client.commands", "create a runspace through a daemon"),
    "list": ("runspaced._client.commands", "list runspaces known to a daemon"),
    "get": ("runspaced._client.commands", "show one runspace"),
    "wait": ("runspaced._client.commands", "wait until a runspace is ready or failed"),
    "delete": ("runspaced._client.commands", "delete a runspace"),
    "events": ("runspaced._client.commands", "stream state and phase changes"),
}


def _build_parser(chosen: str | None) -> tuple[argparse.ArgumentParser, _Command | None]:
    parser = argparse.ArgumentParser(
        prog="runspaced",
        description="Hand out isolated Kubernetes pods (runspaces) and report when each is usable.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command: _Command | None = None
    for name, (module_name, help_text) in _COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            command = cast(_Command, importlib.import_module(module_name))
            command.configure(subparser)
    return parser, command


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the chosen command and return its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    parser, command = _build_parser(chosen if chosen in _COMMANDS else None)
    args = parser.parse_args(arguments)
    if command is None:
        parser.error(f"unknown command {args.command!r}")
    try:
        return command.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: point stdout at /dev/null so the final
        # flush at exit cannot fail again, and stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
