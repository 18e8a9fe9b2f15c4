"""The result a waiter receives once its runspace has left CREATING."""

from __future__ import annotations

from .._errors import EngineClosed, RunspaceFailed, RunspaceTimeout
from .._state.machine import Runspace
from .._types import RunspaceInfo, RunspaceState

__all__ = ["outcome_of"]


def outcome_of(runspace: Runspace) -> RunspaceInfo:
    """Return the snapshot of a READY runspace, or raise the error of any other state.

    Raises RunspaceTimeout for TIMEOUT (with the phase reached and the creation
    limit in seconds), RunspaceFailed for ERROR, TERMINATING and DELETED, and
    EngineClosed for a runspace still CREATING, which only a closed engine returns.
    """
    info = runspace.snapshot()
    if info.state is RunspaceState.READY:
        return info
    if info.state is RunspaceState.CREATING:
        raise EngineClosed(runspace.id)
    if info.state is RunspaceState.TIMEOUT:
        raise RunspaceTimeout(
            runspace.id,
            info.reason,
            info.message,
            info,
            phase=info.phase,
            timeout_s=runspace.creation_deadline - runspace.created_mono,
        )
    raise RunspaceFailed(runspace.id, info.reason, info.message, info)
