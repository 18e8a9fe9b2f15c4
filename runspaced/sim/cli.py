"""``runspaced sim``: run the simulated cluster in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import structlog

__all__ = ["configure", "parse_listen", "run"]

DEFAULT_LISTEN = "127.0.0.1:6443"
DEFAULT_KUBECONFIG = "runspaced-sim.kubeconfig"


def parse_listen(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` for IPv6). Raises ValueError if malformed."""
    host, separator, port_text = text.rpartition(":")
    if not separator or not host:
        raise ValueError(f"--listen must be HOST:PORT, got {text!r}")
    host = host.strip("[]")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    return host, port


def is_loopback(host: str) -> bool:
    """Return True for localhost and addresses in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``runspaced sim`` options to `parser`."""
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve the API on, port 0 picks a free one (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow a --listen address outside 127.0.0.0/8 and ::1",
    )
    parser.add_argument(
        "--kubeconfig-out",
        default=DEFAULT_KUBECONFIG,
        metavar="PATH",
        help=f"where to write the kubeconfig (default ./{DEFAULT_KUBECONFIG})",
    )
    parser.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    parser.add_argument("--scenario", metavar="FILE", help="YAML scenario file for images")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply every simulated delay by X (default 1.0; 0.1 runs 10 times faster)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve https with a self-signed certificate (kubectl sends tokens only over TLS)",
    )
    parser.add_argument(
        "--token",
        help="bearer token to require (default: a random one); visible in the process list",
    )
    parser.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the bearer token from this file instead of --token",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="lowest level of the log events written to stderr (default info)",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between watch BOOKMARK events (default 60)",
    )
    parser.add_argument(
        "--history-size",
        type=int,
        default=10_000,
        metavar="N",
        help="changes kept for watches and continue tokens (default 10000)",
    )


@contextlib.contextmanager
def _rare_full_collections() -> Iterator[None]:
    """Make the garbage collector's full passes rare while the simulator serves.

    Stored pods are long-lived dicts, so a full pass walks all of them and frees almost
    nothing. With 2,000 pods such passes stopped the event loop for 50 to 380 ms, and
    watch events waited as long, where a real API server's collector runs concurrently.
    Objects alive at the start are frozen out of every pass. The previous thresholds
    are restored on exit.
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


async def _serve(args: argparse.Namespace, host: str, port: int, kubeconfig_path: Path) -> int:
    from .cluster import SimCluster

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    cluster = SimCluster(
        host=host,
        port=port,
        nodes=args.nodes,
        scenario=Path(args.scenario) if args.scenario else None,
        time_scale=args.time_scale,
        token=args.token,
        tls=args.tls,
        bookmark_interval=args.bookmark_interval,
        history_size=args.history_size,
        kubeconfig_path=kubeconfig_path,
    )
    async with cluster:
        print(f"API server: {cluster.url}", flush=True)
        print(f"kubeconfig: {cluster.kubeconfig_path}", flush=True)
        if not args.tls:
            print("note: kubectl sends the token only over TLS; use --tls for kubectl", flush=True)
        with _rare_full_collections():
            await stop.wait()
    print("stopped", flush=True)
    return 0


def _configure_logging(level: str) -> None:
    """Send log events to stderr, so stdout carries only the URL and kubeconfig lines.

    `run` restores the previous structlog configuration when it returns.
    """
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


def run(args: argparse.Namespace) -> int:
    """Run the simulated cluster until interrupted; return the exit status."""
    previous = structlog.get_config()
    _configure_logging(args.log_level)
    try:
        return _run(args)
    finally:
        structlog.configure(**previous)


def _run(args: argparse.Namespace) -> int:
    if args.token_file:
        try:
            args.token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            print(f"runspaced sim: cannot read --token-file: {error}", file=sys.stderr)
            return 2
        if not args.token:
            print(f"runspaced sim: --token-file {args.token_file} is empty", file=sys.stderr)
            return 2
    try:
        host, port = parse_listen(args.listen)
    except ValueError as error:
        print(f"runspaced sim: {error}", file=sys.stderr)
        return 2
    if not is_loopback(host) and not args.allow_non_loopback:
        print(
            f"runspaced sim: {host} is not a loopback address; the simulator has no real "
            "security, pass --allow-non-loopback to serve on it anyway",
            file=sys.stderr,
        )
        return 2
    if args.nodes < 0 or args.time_scale <= 0:
        print("runspaced sim: --nodes must be >= 0 and --time-scale > 0", file=sys.stderr)
        return 2
    kubeconfig_path = Path(args.kubeconfig_out).resolve()
    return asyncio.run(_serve(args, host, port, kubeconfig_path))
