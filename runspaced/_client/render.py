"""Terminal output of runspace documents: a detail view, a table and progress lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["format_detail", "format_json", "format_progress", "format_table"]


def format_json(value: Any) -> str:
    """Return `value` as indented JSON."""
    return json.dumps(value, indent=2, sort_keys=True)


def _age(created_at: str | None) -> str:
    if not created_at:
        return "-"
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(created_at)).total_seconds()
    except ValueError:
        return "-"
    if seconds < 120:
        return f"{max(seconds, 0):.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _endpoint(document: dict[str, Any]) -> str:
    endpoint = document.get("endpoint")
    return str(endpoint["url"]) if isinstance(endpoint, dict) else "-"


def format_table(documents: Sequence[dict[str, Any]]) -> str:
    """Return one aligned row per runspace: id, state, phase, age, endpoint, reason."""
    rows = [("ID", "STATE", "PHASE", "AGE", "ENDPOINT", "REASON")]
    for document in documents:
        rows.append(
            (
                str(document.get("id")),
                str(document.get("state")),
                str(document.get("phase")),
                _age(document.get("created_at")),
                _endpoint(document),
                str(document.get("reason") or "-"),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def format_detail(document: dict[str, Any]) -> str:
    """Return one ``key: value`` line per field that has a value."""
    lines = []
    for key in (
        "id",
        "state",
        "phase",
        "profile",
        "image",
        "reason",
        "message",
        "detail",
        "namespace",
        "node",
        "pod_ip",
        "created_at",
        "ready_at",
        "finished_at",
        "expires_at",
    ):
        value = document.get(key)
        if value not in (None, ""):
            lines.append(f"{key + ':':<12} {value}")
    if document.get("endpoint"):
        lines.append(f"{'endpoint:':<12} {_endpoint(document)}")
    labels = document.get("labels") or {}
    if labels:
        lines.append(f"{'labels:':<12} " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    return "\n".join(lines)


def format_progress(document: dict[str, Any]) -> str:
    """Return a one-line progress summary: id, state, phase and the latest detail."""
    text = f"{document.get('id')}: {document.get('state')} ({document.get('phase')})"
    detail = document.get("detail") or document.get("reason")
    if detail:
        text += f" - {detail}"
    return text
