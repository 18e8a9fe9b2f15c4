"""CLI commands that talk to a running daemon: create, list, get, wait, delete, events.

Exit status 0 means success. 1 means the runspace ended in error, timed out, was deleted
during the wait, or was still creating when the wait ended. 2 means a usage error, an
unreachable daemon or a request the daemon rejected. Every failure prints one line on
stderr saying what failed and what to do.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .client import ConnectionFailed, DaemonClient, DaemonError, ProblemError
from .render import format_detail, format_json, format_progress, format_table

__all__ = ["configure", "run"]

EXIT_OK = 0
EXIT_RUNSPACE_FAILED = 1
EXIT_USAGE = 2

_OUTCOME_SLUGS = ("runspace-failed", "runspace-timeout", "runspace-deleted")


class UsageError(Exception):
    """The command line or the environment is incomplete or invalid."""


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("RUNSPACED_URL"),
        help="daemon URL, e.g. http://127.0.0.1:8080 (default: $RUNSPACED_URL)",
    )
    parser.add_argument(
        "--token-file",
        default=os.environ.get("RUNSPACED_TOKEN_FILE"),
        metavar="PATH",
        help="file holding the bearer token (default: $RUNSPACED_TOKEN_FILE)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default="table",
        help="output format (default: table)",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of the subcommand named in ``parser.prog`` (``runspaced create`` ...)."""
    command = parser.prog.split()[-1]
    _common(parser)
    if command == "create":
        parser.add_argument(
            "--profile",
            default="default",
            help="profile defined by the daemon's operator (default: default)",
        )
        parser.add_argument("--image", help="container image, if the profile allows choosing it")
        parser.add_argument(
            "--env",
            action="append",
            type=_key_value,
            default=[],
            metavar="KEY=VALUE",
            help="environment variable (repeatable)",
        )
        parser.add_argument(
            "--label",
            action="append",
            type=_key_value,
            default=[],
            metavar="KEY=VALUE",
            help="pod label (repeatable)",
        )
        parser.add_argument(
            "--port", type=int, help="container port, if the profile allows choosing it"
        )
        parser.add_argument(
            "--request",
            action="append",
            type=_key_value,
            default=[],
            metavar="RESOURCE=QUANTITY",
            help="resource request, e.g. cpu=500m (repeatable)",
        )
        parser.add_argument(
            "--limit",
            action="append",
            type=_key_value,
            default=[],
            metavar="RESOURCE=QUANTITY",
            help="resource limit, e.g. memory=1Gi (repeatable)",
        )
        parser.add_argument(
            "--ttl",
            type=float,
            metavar="SECONDS",
            help="delete the runspace this many seconds after creation",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="wait until ready or failed, showing progress on a terminal",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help="with --wait: seconds to wait at most (default: 300)",
        )
    elif command == "list":
        parser.add_argument(
            "--state",
            action="append",
            default=[],
            choices=("creating", "ready", "error", "timeout", "terminating", "deleted"),
            help="only runspaces in this state (repeatable)",
        )
        parser.add_argument(
            "--label",
            action="append",
            type=_key_value,
            default=[],
            metavar="KEY=VALUE",
            help="only runspaces with this label (repeatable)",
        )
    elif command in ("get", "delete"):
        parser.add_argument("id", help="runspace id")
    elif command == "wait":
        parser.add_argument("id", help="runspace id")
        parser.add_argument(
            "--timeout",
            type=float,
            default=300.0,
            metavar="SECONDS",
            help="seconds to wait at most (default: 300)",
        )
    elif command == "events":
        parser.add_argument(
            "id", nargs="?", help="only this runspace's events (the stream ends when it is deleted)"
        )
        parser.add_argument("--last-event-id", metavar="ID", help="resume after this event id")


def _read_token(path: str | None) -> str | None:
    if not path:
        return None
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(
            f"cannot read the token file {path}: {exc.strerror or exc}; check --token-file"
        ) from exc
    if not token:
        raise UsageError(f"the token file {path} is empty; check --token-file")
    return token


def _show(document: dict[str, Any], as_json: bool, out: TextIO) -> None:
    print(format_json(document) if as_json else format_detail(document), file=out)


def _report_outcome(
    document: dict[str, Any], decided: bool, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """Print the final document of a wait and return its exit status.

    `decided` is False when the runspace was still creating when the wait ended.
    """
    _show(document, as_json, out)
    runspace_id = document.get("id")
    if decided and document.get("state") == "ready":
        return EXIT_OK
    if not decided:
        print(
            f"runspaced: runspace {runspace_id} is still {document.get('phase')} after the wait; "
            f"run 'runspaced wait {runspace_id}' to keep waiting",
            file=err,
        )
        return EXIT_RUNSPACE_FAILED
    state = document.get("state")
    reason = document.get("reason")
    message = document.get("message")
    text = f"runspaced: runspace {runspace_id} ended in state {state}"
    if reason:
        text += f": {reason}"
    if message:
        text += f": {message}"
    print(text, file=err)
    return EXIT_RUNSPACE_FAILED


class _Command:
    """One invocation: the client, the output stream and the chosen format."""

    def __init__(
        self, args: argparse.Namespace, client: DaemonClient, out: TextIO, err: TextIO
    ) -> None:
        self.args = args
        self.client = client
        self.out = out
        self.err = err
        self.json = args.output == "json"

    def show(self, document: dict[str, Any]) -> None:
        _show(document, self.json, self.out)

    def outcome(self, document: dict[str, Any], decided: bool) -> int:
        return _report_outcome(document, decided, self.json, self.out, self.err)

    # -- subcommands -------------------------------------------------------------------

    def create(self) -> int:
        args = self.args
        if args.timeout is not None and not args.wait:
            raise UsageError("--timeout applies only with --wait; add --wait or drop --timeout")
        body: dict[str, Any] = {"profile": args.profile}
        if args.image:
            body["image"] = args.image
        if args.env:
            body["env"] = dict(args.env)
        if args.label:
            body["labels"] = dict(args.label)
        if args.port is not None:
            body["port"] = args.port
        if args.request or args.limit:
            body["resources"] = {"requests": dict(args.request), "limits": dict(args.limit)}
        if args.ttl is not None:
            body["ttl_seconds"] = args.ttl

        _, document = self.client.create(body)
        if not args.wait:
            self.show(document)
            return EXIT_OK
        return self._wait(document, args.timeout if args.timeout is not None else 300.0)

    def _wait(self, document: dict[str, Any], timeout: float) -> int:
        # Follow the runspace's event stream (it starts with a snapshot, so nothing is
        # missed), drawing one progress line on a terminal.
        runspace_id = str(document["id"])
        deadline = time.monotonic() + timeout
        live = self.err.isatty()
        latest = document
        try:
            for event in self.client.events(runspace_id, read_timeout=max(timeout, 1.0)):
                if event is not None and event.event in ("snapshot", "state", "phase", "detail"):
                    latest = event.json()["runspace"]
                    if live:
                        self.err.write("\r\033[K" + format_progress(latest))
                        self.err.flush()
                    if latest.get("state") != "creating":
                        break
                if time.monotonic() >= deadline:
                    break
        except ConnectionFailed:
            # The stream broke (daemon restarting?): one long poll decides instead.
            pass
        finally:
            if live:
                self.err.write("\n")

        if latest.get("state") == "creating" and time.monotonic() < deadline:
            _, latest = self.client.wait(runspace_id, max(deadline - time.monotonic(), 0.0))
        return self.outcome(latest, latest.get("state") != "creating")

    def list(self) -> int:
        documents = self.client.list(self.args.state, dict(self.args.label))
        print(format_json(documents) if self.json else format_table(documents), file=self.out)
        return EXIT_OK

    def get(self) -> int:
        self.show(self.client.get(self.args.id))
        return EXIT_OK

    def wait(self) -> int:
        try:
            status, document = self.client.wait(self.args.id, self.args.timeout)
        except ProblemError as exc:
            if exc.slug in _OUTCOME_SLUGS and exc.runspace is not None:
                return self.outcome(exc.runspace, True)
            raise
        return self.outcome(document, status == 200)

    def delete(self) -> int:
        _, document = self.client.delete(self.args.id)
        self.show(document)
        return EXIT_OK

    def events(self) -> int:
        for event in self.client.events(self.args.id, self.args.last_event_id):
            if event is None:
                continue
            if self.json:
                print(
                    format_json({"id": event.id, "event": event.event, "data": event.json()}),
                    file=self.out,
                    flush=True,
                )
                continue
            data = event.json()
            if event.event == "resync":
                print(
                    f"{event.id} resync: {data.get('reason')} (list the runspaces again)",
                    file=self.out,
                    flush=True,
                )
            else:
                print(
                    f"{event.id} {event.event}: {format_progress(data['runspace'])}",
                    file=self.out,
                    flush=True,
                )
        return EXIT_OK


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the subcommand in ``args.command``; return the exit status (see module docstring)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if not args.url:
            raise UsageError("no daemon URL: pass --url http://HOST:PORT or set RUNSPACED_URL")
        if not args.url.startswith(("http://", "https://")):
            raise UsageError(
                f"invalid daemon URL {args.url!r}: it must start with http:// or https://"
            )
        token = _read_token(args.token_file)
        with DaemonClient(args.url, token) as client:
            command = _Command(args, client, out, err)
            return int(getattr(command, args.command)())
    except UsageError as exc:
        print(f"runspaced: {exc}", file=err)
        return EXIT_USAGE
    except ConnectionFailed as exc:
        print(f"runspaced: {exc}; check --url and that 'runspaced serve' is running", file=err)
        return EXIT_USAGE
    except ProblemError as exc:
        if exc.slug in _OUTCOME_SLUGS and exc.runspace is not None:
            return _report_outcome(exc.runspace, True, args.output == "json", out, err)
        print(f"runspaced: {args.command} failed: {exc} (HTTP {exc.status}){_hint(exc)}", file=err)
        return EXIT_USAGE
    except DaemonError as exc:
        print(f"runspaced: {args.command} failed: {exc}", file=err)
        return EXIT_USAGE


def _hint(error: ProblemError) -> str:
    if error.status == 401:
        return "; pass the daemon's token with --token-file"
    if error.status == 404 and error.slug == "runspace-not-found":
        return "; list the known ids with 'runspaced list'"
    if error.status in (429, 503):
        return "; retry in a few seconds"
    return ""
