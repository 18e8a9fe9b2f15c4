"""OpenAPI descriptions of error responses, shared by the routers."""

from __future__ import annotations

from typing import Any

from .models import ProblemDocument

__all__ = ["problem_responses"]

_DESCRIPTIONS = {
    400: "Invalid request: the `errors` member names each invalid field",
    401: "Missing or invalid bearer token",
    404: "Unknown runspace id",
    409: "The runspace failed, timed out or was deleted (`runspace` member)",
    413: "Request body too large",
    422: "Well-formed request that the profile, the allowlist or the cluster rejects",
    429: "Runspace limit reached; see the Retry-After header",
    502: "The Kubernetes API request failed",
    503: "Watch not synced yet, or shutting down; see the Retry-After header",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return FastAPI `responses` entries documenting `statuses` as problem+json."""
    return {
        status: {"model": ProblemDocument, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }
