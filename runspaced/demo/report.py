"""The demo's closing report: a summary table for people, or one JSON document."""

from __future__ import annotations

from typing import Any

from .outcomes import DemoResult, Outcome

__all__ = ["json_document", "summary_text"]

_PHASE_ABBREVIATIONS = {
    "scheduling": "sched",
    "initializing": "init",
    "pulling": "pull",
    "starting": "start",
    "verifying": "verify",
    "ready": "ready",
}


def json_document(result: DemoResult) -> dict[str, Any]:
    """Return the result as a JSON-ready dict.

    Keys: ``runspaces`` (id, image, kind, expected, state, reason, message, seconds,
    phases, endpoint, probe, final_state, as_expected), ``api_requests`` (total,
    by_verb), ``polling_estimate``, ``leaked_pods`` (a count), ``leaked_pod_names``,
    ``wall_seconds``, ``time_scale``, ``problems`` and ``ok``.
    """
    problems = result.problems()
    return {
        "runspaces": [_runspace_entry(outcome) for outcome in result.outcomes],
        "api_requests": {"total": result.api_requests, "by_verb": dict(result.requests_by_verb)},
        "polling_estimate": result.polling_estimate,
        "leaked_pods": len(result.leaked_pods),
        "leaked_pod_names": sorted(result.leaked_pods),
        "wall_seconds": round(result.wall_seconds, 3),
        "time_scale": result.time_scale,
        "problems": problems,
        "ok": not problems,
    }


def _runspace_entry(outcome: Outcome) -> dict[str, Any]:
    info = outcome.info
    seconds = outcome.seconds
    probe = outcome.probe
    return {
        "id": outcome.runspace_id,
        "image": outcome.case.spec.image,
        "kind": outcome.case.kind,
        "expected": outcome.case.expectation,
        "state": outcome.state.value if outcome.state is not None else None,
        "reason": outcome.reason,
        "message": outcome.message,
        "seconds": round(seconds, 3) if seconds is not None else None,
        "phases": {name: round(value, 3) for name, value in outcome.phases.items()},
        "endpoint": str(info.endpoint) if info is not None and info.endpoint else None,
        "probe": (
            {"status": probe.status, "body": probe.body, "error": probe.error}
            if probe is not None
            else None
        ),
        "final_state": outcome.final_state.value if outcome.final_state is not None else None,
        "as_expected": not outcome.problems(),
    }


def summary_text(result: DemoResult) -> str:
    """Return the summary table, the totals and the request comparison as text."""
    header = ("runspace", "image", "outcome", "reason", "time", "phases", "check")
    rows = [_summary_row(outcome) for outcome in result.outcomes]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.append("")
    lines += _totals(result)
    return "\n".join(lines)


def _summary_row(outcome: Outcome) -> tuple[str, ...]:
    seconds = outcome.seconds
    phases = " ".join(
        f"{_PHASE_ABBREVIATIONS.get(name, name)} {value:.2f}"
        for name, value in outcome.phases.items()
        if value >= 0.005
    )
    return (
        outcome.runspace_id or "-",
        outcome.case.spec.image,
        outcome.state.value if outcome.state is not None else "rejected",
        outcome.reason or "-",
        f"{seconds:.2f}s" if seconds is not None else "-",
        phases or "-",
        "ok" if not outcome.problems() else "UNEXPECTED",
    )


def _totals(result: DemoResult) -> list[str]:
    outcomes = result.outcomes
    by_state: dict[str, int] = {}
    for outcome in outcomes:
        name = outcome.state.value if outcome.state is not None else "rejected"
        by_state[name] = by_state.get(name, 0) + 1
    states = ", ".join(f"{count} {name}" for name, count in sorted(by_state.items()))
    expected = sum(1 for outcome in outcomes if not outcome.problems())
    ready = [o for o in outcomes if o.probe is not None]
    answered = sum(1 for o in ready if o.probe is not None and o.probe.ok)
    deleted = sum(
        1 for o in outcomes if o.final_state is not None and o.final_state.value == "deleted"
    )

    verbs = ", ".join(f"{verb} {count}" for verb, count in sorted(result.requests_by_verb.items()))
    estimate = result.polling_estimate
    return [
        f"{len(outcomes)} runspaces in {result.wall_seconds:.1f}s (simulator time scale "
        f"{result.time_scale:g}): {states}; {expected} as expected.",
        f"Endpoints answered GET /: {answered} of {len(ready)}. "
        f"Deleted: {deleted} of {len(outcomes)}. Pods left: {len(result.leaked_pods)}.",
        f"API requests made by the engine: {result.api_requests} ({verbs or 'none'}).",
        f"Estimate for per-waiter polling every 100 ms: about {estimate} requests "
        f"({len(outcomes)} creates plus one GET per 100 ms until each outcome, deletes not counted).",
    ]
