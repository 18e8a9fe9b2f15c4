"""What each image does in the simulator: how long it pulls, whether it fails, how it exits.

Behaviour comes from a naming convention, overridable by scenario rules
(`runspaced.sim.scenario`). The convention looks at the normalized repository
("docker.io/library/nginx"), matching the words below at the start of a path component
or after a separator (``.``, ``_``, ``-``), so "sim/oom:1" and "my-oom" match but "bloom"
does not:

- ``does-not-exist``: every pull fails (ErrImagePull, then ImagePullBackOff).
- ``crashloop``: the container exits 1 one second after it starts.
- ``oom``: the container is OOMKilled (exit code 137) one second after it starts.
- anything else pulls in 0.2 to 1.0 s (fixed per image name) and runs until stopped.

References that fail the image reference grammar never get here: the kubelet reports
InvalidImageName before it looks at an image.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from .reference import ImageReference

__all__ = [
    "ImageBehaviour",
    "conventional_behaviour",
    "format_go_duration",
    "image_digest",
    "not_found_pull_error",
]

DEFAULT_CRASH_AFTER_SECONDS = 1.0
MIN_PULL_SECONDS = 0.2
MAX_PULL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ImageBehaviour:
    """Resolved behaviour of one image. Durations are in unscaled seconds.

    ``exit_code`` None means the container runs until it is stopped; otherwise it exits
    with that code ``crash_after_seconds`` after it starts. ``readiness_delay_seconds``
    None means "derive from the probe" (initialDelaySeconds plus one second); it only
    applies to containers with a readinessProbe or startupProbe.
    """

    pull_seconds: float
    pull_error: str | None = None
    exit_code: int | None = None
    crash_after_seconds: float = DEFAULT_CRASH_AFTER_SECONDS
    oom_killed: bool = False
    readiness_delay_seconds: float | None = None
    endpoint_listening: bool = True
    preloaded: bool = False
    image_size_bytes: int = 50_000_000
    stop_exit_code: int = 0

    def with_overrides(self, overrides: dict[str, Any]) -> ImageBehaviour:
        """Return a copy with the given fields replaced."""
        return replace(self, **overrides)


def conventional_behaviour(reference: ImageReference) -> ImageBehaviour:
    """Return the behaviour the naming convention gives an image."""
    repository = reference.repository
    fraction = _hash_fraction(reference.canonical)
    behaviour = ImageBehaviour(
        pull_seconds=round(MIN_PULL_SECONDS + (MAX_PULL_SECONDS - MIN_PULL_SECONDS) * fraction, 3),
        image_size_bytes=5_000_000 + int(fraction * 295_000_000),
    )

    if _has_word(repository, "does-not-exist"):
        return replace(behaviour, pull_error=not_found_pull_error(reference))
    if _has_word(repository, "crashloop"):
        return replace(behaviour, exit_code=1)
    if _has_word(repository, "oom"):
        return replace(behaviour, exit_code=137, oom_killed=True)
    return behaviour


def not_found_pull_error(reference: ImageReference) -> str:
    """Return containerd's error for a pull from a repository that does not exist.

    This is the text a Docker Hub pull answers with (containerd 1.7), which the kubelet
    puts in the ErrImagePull waiting message and the Failed event.
    """
    canonical = reference.canonical
    return (
        f'failed to pull and unpack image "{canonical}": failed to resolve reference '
        f'"{canonical}": pull access denied, repository does not exist or may require '
        "authorization: server message: insufficient_scope: authorization failed"
    )


def image_digest(reference: ImageReference) -> str:
    """Return a stable fake content digest ("sha256:<64 hex>") for an image."""
    if reference.digest:
        return reference.digest
    return "sha256:" + hashlib.sha256(reference.canonical.encode()).hexdigest()


def format_go_duration(seconds: float) -> str:
    """Format a duration as Go's time.Duration String does, to millisecond precision.

    0.3134 -> "313ms", 1.5 -> "1.5s", 300 -> "5m0s", 3725 -> "1h2m5s".
    """
    millis = int(seconds * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    text = f"{whole}.{fraction:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _has_word(repository: str, word: str) -> bool:
    return re.search(r"(?:^|[/._-])" + re.escape(word), repository) is not None


def _hash_fraction(text: str) -> float:
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
