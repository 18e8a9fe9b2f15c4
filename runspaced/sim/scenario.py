"""Scenario files: rules that override the simulator's image conventions.

A scenario is YAML (or the equivalent dict): a list of rules, or a mapping with a
``rules`` list. The first rule whose pattern matches the image as written in the pod
spec wins; the fields it sets replace the convention's (`runspaced.sim.images`), the
fields it leaves out keep the convention's values. Example::

    rules:
      - image: "registry.example.com/slow/*"   # glob (fnmatch, case-sensitive)
        pull_seconds: 8
      - regex: ".*/flaky:v[0-9]+"               # Python regex, must match the whole image
        pull_error: "rpc error: code = Unavailable desc = connection reset"
      - image: "sim/no-listener:*"
        endpoint: {listening: false}
      - image: "sim/prewarmed:*"
        preloaded: true

Fields: pull_seconds, pull_error (text, or true for the repository-not-found error),
exit_code, crash_after_seconds, oom_killed, readiness_delay_seconds,
endpoint.listening, preloaded, image_size_bytes, stop_exit_code (exit code on SIGTERM).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .images import ImageBehaviour, conventional_behaviour, not_found_pull_error
from .reference import ImageReference

__all__ = ["InvalidScenario", "Rule", "Scenario"]

_FLOAT_FIELDS = ("pull_seconds", "crash_after_seconds", "readiness_delay_seconds")
_INT_FIELDS = ("exit_code", "image_size_bytes", "stop_exit_code")
_BOOL_FIELDS = ("oom_killed", "preloaded")
_PATTERN_KEYS = ("image", "regex")
_KNOWN_KEYS = frozenset(
    (*_FLOAT_FIELDS, *_INT_FIELDS, *_BOOL_FIELDS, *_PATTERN_KEYS, "pull_error", "endpoint")
)


class InvalidScenario(ValueError):
    """A scenario file or dict does not follow the rule format."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One scenario rule: an image pattern and the behaviour fields it overrides."""

    pattern: str
    is_regex: bool
    overrides: Mapping[str, Any]
    _compiled: re.Pattern[str] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int) -> Rule:
        """Build a rule from its YAML mapping; raise InvalidScenario naming the rule."""
        where = f"rule {index}"
        if not isinstance(data, Mapping):
            raise InvalidScenario(f"{where}: expected a mapping, got {type(data).__name__}")
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise InvalidScenario(f"{where}: unknown fields {sorted(unknown)}")
        patterns = [key for key in _PATTERN_KEYS if key in data]
        if len(patterns) != 1:
            raise InvalidScenario(f"{where}: set exactly one of 'image' (glob) or 'regex'")
        pattern = data[patterns[0]]
        if not isinstance(pattern, str) or not pattern:
            raise InvalidScenario(f"{where}: the pattern must be a non-empty string")
        is_regex = patterns[0] == "regex"
        try:
            compiled = re.compile(pattern if is_regex else fnmatch.translate(pattern))
        except re.error as error:
            raise InvalidScenario(f"{where}: invalid regex {pattern!r}: {error}") from error
        return cls(pattern, is_regex, _overrides(data, where), compiled)

    def matches(self, image: str) -> bool:
        """Return True when the image, as written in the pod spec, matches the pattern."""
        return self._compiled.fullmatch(image) is not None


class Scenario:
    """Ordered image rules on top of the naming convention."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)

    def __repr__(self) -> str:
        return f"Scenario(rules={len(self.rules)})"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Sequence[Any] | None) -> Scenario:
        """Build a scenario from a list of rules or a mapping with a ``rules`` list.

        Raises InvalidScenario on unknown fields, bad types or a bad pattern.
        """
        if data is None:
            return cls()
        if isinstance(data, Mapping):
            unknown = set(data) - {"rules"}
            if unknown:
                raise InvalidScenario(f"unknown top-level fields {sorted(unknown)}")
            data = data.get("rules") or []
        if isinstance(data, str) or not isinstance(data, Sequence):
            raise InvalidScenario("expected a list of rules")
        return cls([Rule.from_dict(item, index) for index, item in enumerate(data, 1)])

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        """Load a YAML scenario file. Raises OSError if unreadable, InvalidScenario if bad."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidScenario(f"{path}: invalid YAML: {error}") from error
        return cls.from_dict(data)

    def behaviour(self, image: str, reference: ImageReference) -> ImageBehaviour:
        """Return the behaviour of an image: the first matching rule over the convention."""
        behaviour = conventional_behaviour(reference)
        for rule in self.rules:
            if rule.matches(image):
                overrides = dict(rule.overrides)
                if overrides.get("pull_error") is True:
                    overrides["pull_error"] = not_found_pull_error(reference)
                return behaviour.with_overrides(overrides)
        return behaviour


def _overrides(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key in _FLOAT_FIELDS:
        if key in data:
            value = data[key]
            if value is None and key == "readiness_delay_seconds":
                overrides[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidScenario(f"{where}: {key} must be a number >= 0, got {value!r}")
            overrides[key] = float(value)
    for key in _INT_FIELDS:
        if key in data:
            value = data[key]
            if value is None and key == "exit_code":
                overrides[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidScenario(f"{where}: {key} must be an integer, got {value!r}")
            overrides[key] = value
    for key in _BOOL_FIELDS:
        if key in data:
            if not isinstance(data[key], bool):
                raise InvalidScenario(f"{where}: {key} must be true or false")
            overrides[key] = data[key]
    if "pull_error" in data:
        value = data["pull_error"]
        if value is False or value is None:
            overrides["pull_error"] = None
        elif value is True or isinstance(value, str):
            overrides["pull_error"] = value
        else:
            raise InvalidScenario(f"{where}: pull_error must be a message or true/false")
    if "endpoint" in data:
        endpoint = data["endpoint"]
        if not isinstance(endpoint, Mapping) or not isinstance(endpoint.get("listening"), bool):
            raise InvalidScenario(f"{where}: endpoint must be {{listening: true|false}}")
        overrides["endpoint_listening"] = endpoint["listening"]
    return overrides
