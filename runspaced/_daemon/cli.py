"""``runspaced serve``: run the sidecar daemon.

Exit status: 0 after a graceful shutdown (SIGTERM or SIGINT), 2 for an invalid
configuration, 1 when the daemon fails to start or stops on an error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import structlog

from .config import ENV_PREFIX, ConfigError, load_config
from .logs import configure_logging
from .server import Daemon, bind_socket

__all__ = ["configure", "run"]

log = structlog.get_logger("runspaced.daemon")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to `parser`; unset options fall back to env, then the file."""
    parser.description = (
        "Run the sidecar daemon: an HTTP API that creates runspaces from operator-defined "
        f"profiles. Settings come from flags, then {ENV_PREFIX}* environment variables, "
        "then the config file."
    )
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    cluster.add_argument(
        "--simulate",
        action="store_const",
        const=True,
        default=None,
        help="run on an in-process simulated cluster instead of a real one",
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument(
        "--namespace",
        metavar="NS",
        help="namespace for runspace pods (default: the context's, then 'default')",
    )
    parser.add_argument(
        "--listen", metavar="HOST:PORT", help="address to listen on (default: 127.0.0.1:8080)"
    )
    parser.add_argument(
        "--token-file", metavar="PATH", help="file holding the bearer token callers must send"
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file, YAML or TOML by suffix (profiles, limits, allowlist)",
    )
    parser.add_argument(
        "--insecure-no-auth",
        action="store_const",
        const=True,
        default=None,
        help="allow listening beyond loopback without a token (anyone who can connect may create pods)",
    )
    parser.add_argument(
        "--time-scale",
        dest="simulate_time_scale",
        type=float,
        metavar="FACTOR",
        help="with --simulate: multiply simulated delays by FACTOR (e.g. 0.1 is 10x faster)",
    )
    parser.add_argument(
        "--scenario",
        dest="simulate_scenario",
        metavar="PATH",
        help="with --simulate: scenario file (YAML) that sets how images behave",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        help="log output format (default: auto)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="minimum log level (default: info)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the configuration, then serve until SIGTERM or SIGINT."""
    flags = {
        name: getattr(args, name, None)
        for name in (
            "kubeconfig",
            "simulate",
            "context",
            "namespace",
            "listen",
            "token_file",
            "config",
            "insecure_no_auth",
            "simulate_time_scale",
            "simulate_scenario",
            "log_format",
            "log_level",
        )
    }
    try:
        config = load_config(flags)
    except ConfigError as exc:
        print(f"runspaced serve: {exc}", file=sys.stderr)
        return 2

    configure_logging(config.log_format, config.log_level)

    # Bind first, so that an address in use is told apart from a cluster error.
    try:
        sock = bind_socket(config.listen_host, config.listen_port)
    except OSError as exc:
        log.error("daemon.listen_failed", listen=config.listen, error=str(exc))
        print(
            f"runspaced serve: cannot listen on {config.listen}: {exc.strerror or exc}; "
            "choose another address with --listen",
            file=sys.stderr,
        )
        return 1

    daemon = Daemon(config)
    try:
        asyncio.run(daemon.serve(sock))
    except Exception as exc:
        log.error("daemon.failed", error=repr(exc), exc_info=exc)
        print(f"runspaced serve: failed: {exc}", file=sys.stderr)
        return 1
    return 0
