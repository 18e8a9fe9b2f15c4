"""Capped exponential back-off with full jitter."""

from __future__ import annotations

import random

__all__ = ["Backoff"]

# One generator for every Backoff: seeding a new Random() reads os.urandom, which cost
# more than the back-off itself when the engine made one per create and per delete.
_SHARED_RNG = random.Random()


class Backoff:
    """Delays for successive retries: uniform in [0, min(cap, base * 2**attempt)] seconds.

    Full jitter spreads many clients that failed at the same moment. `reset()` after a
    success starts again from `base`. There is no attempt limit: callers retry forever.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None):
        if base <= 0 or cap < base:
            raise ValueError(f"invalid back-off: base={base!r}, cap={cap!r}")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or _SHARED_RNG

    def next_delay(self, retry_after: float | None = None) -> float:
        """Return the next delay in seconds; a server's Retry-After is a lower bound."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        delay = self._rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def reset(self) -> None:
        self.attempt = 0
