"""The engine facade: joins the shared watch, the state machines and the waiters."""

from .engine import RunspaceEngine
from .settings import EngineHealth, EngineSettings

__all__ = ["EngineHealth", "EngineSettings", "RunspaceEngine"]
