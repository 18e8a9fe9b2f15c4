"""Prometheus metrics in the text exposition format (version 0.0.4).

The daemon keeps its own counters here (requests, durations, expirations); gauges about
runspaces and the watch are read from the engine at scrape time, so they are never stale.
Label values are escaped as the format requires, and route labels are route templates
(``/v1/runspaces/{runspace_id}``), never raw paths, so cardinality stays bounded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

__all__ = ["CONTENT_TYPE", "DaemonMetrics", "render_family"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items())
    return "{" + inner + "}"


def _format_value(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def render_family(
    name: str,
    kind: str,
    help_text: str,
    samples: Iterable[tuple[Mapping[str, str], float]],
) -> str:
    """Render one metric family: HELP and TYPE lines, then one line per sample."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        lines.append(f"{name}{_format_labels(labels)} {_format_value(value)}")
    return "\n".join(lines) + "\n"


class DaemonMetrics:
    """Counters the daemon itself maintains; all methods are cheap and synchronous."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.duration_sum: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.duration_count: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.expirations = 0
        self.expiration_failures = 0
        self.active_waits = 0
        self.rejected_over_limit = 0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and add its duration (seconds)."""
        self.requests[(method, route, str(status))] += 1
        self.duration_sum[(method, route)] += seconds
        self.duration_count[(method, route)] += 1

    def _render_durations(self) -> str:
        name = "runspaced_http_request_duration_seconds"
        lines = [
            f"# HELP {name} Seconds spent handling HTTP requests, by method and route template.",
            f"# TYPE {name} summary",
        ]
        for (method, route), total in sorted(self.duration_sum.items()):
            labels = _format_labels({"method": method, "route": route})
            lines.append(f"{name}_sum{labels} {_format_value(total)}")
            count = self.duration_count[(method, route)]
            lines.append(f"{name}_count{labels} {_format_value(count)}")
        return "\n".join(lines) + "\n"

    def render(self) -> str:
        """Render the daemon's own counters."""
        parts = [
            render_family(
                "runspaced_http_requests_total",
                "counter",
                "HTTP requests handled, by method, route template and status code.",
                (
                    ({"method": m, "route": r, "status": s}, n)
                    for (m, r, s), n in sorted(self.requests.items())
                ),
            ),
            self._render_durations(),
            render_family(
                "runspaced_daemon_waiting_requests",
                "gauge",
                "Requests currently waiting for a runspace outcome (long polls and ?wait=).",
                [({}, self.active_waits)],
            ),
            render_family(
                "runspaced_ttl_expirations_total",
                "counter",
                "Runspaces the daemon deleted because their ttl_seconds passed.",
                [({}, self.expirations)],
            ),
            render_family(
                "runspaced_ttl_expiration_failures_total",
                "counter",
                "Expiry deletions that failed and will be retried.",
                [({}, self.expiration_failures)],
            ),
            render_family(
                "runspaced_create_rejected_total",
                "counter",
                "Create requests rejected with 429 because the runspace limit was reached.",
                [({}, self.rejected_over_limit)],
            ),
        ]
        return "".join(parts)
