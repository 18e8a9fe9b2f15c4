"""Operator-defined profiles and the policy that turns a caller's request into a RunspaceSpec.

A profile fixes the image, port, command, resources, env and labels of a runspace. A caller
picks a profile by name and may override only what the profile allows: the image (and only
to one matching the daemon's image allowlist), the port, the resources (capped by the
profile's ``max_resources``), env keys matching ``allowed_env`` and labels under
``allowed_label_prefixes``. Callers never pass a pod spec.

`resolve_request` is pure: it raises `PolicyError` naming the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

from .._types import DEFAULT_RESOURCES, Resources, RunspaceSpec

__all__ = [
    "EXPIRES_AT_ANNOTATION",
    "EXPIRES_AT_LABEL",
    "PROFILE_LABEL",
    "PolicyError",
    "Profile",
    "ResolvedRequest",
    "parse_profile",
    "parse_quantity",
    "resolve_request",
]

PROFILE_LABEL = "runspaced.dev/profile"
# The expiry is stored twice: the annotation is RFC 3339 for people, and the label holds
# Unix seconds because RunspaceInfo exposes labels but not annotations, and a restarted
# daemon reads the expiry back from there.
EXPIRES_AT_LABEL = "runspaced.dev/expires-at"
EXPIRES_AT_ANNOTATION = "runspaced.dev/expires-at"

# Label prefixes callers may never set, whatever the profile allows.
_RESERVED_PREFIXES = ("runspaced.dev/", "kubernetes.io/", "k8s.io/", "app.kubernetes.io/")
_RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
_MAX_ENV_ENTRIES = 64
_MAX_LABEL_ENTRIES = 32
_MAX_IMAGE_LENGTH = 512

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$")
_SUFFIX_FACTORS: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


class PolicyError(ValueError):
    """A create request is invalid or asks for more than its profile allows.

    `field` is the request field at fault (dotted, e.g. ``env.HOME``). `forbidden` is True
    when the value is well formed but the profile or allowlist does not permit it (the
    daemon answers 422), False when the value itself is malformed (400).
    """

    def __init__(self, field: str, message: str, *, forbidden: bool) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.forbidden = forbidden


@dataclass(frozen=True, slots=True)
class Profile:
    """A runspace template defined by the operator, with the overrides callers may make.

    `ttl_seconds` is the default time to live (None: no expiry unless the caller asks).
    `max_ttl_seconds` caps what callers may ask for (None: the daemon-wide cap).
    `max_resources` caps each caller-given request and limit, by resource name.
    """

    name: str
    image: str
    port: int = 8080
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    resources: Resources = DEFAULT_RESOURCES
    allow_image: bool = False
    allow_port: bool = False
    allow_resources: bool = False
    allowed_env: tuple[str, ...] = ()
    allowed_label_prefixes: tuple[str, ...] = ()
    max_resources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ttl_seconds: float | None = None
    max_ttl_seconds: float | None = None
    creation_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class ResolvedRequest:
    """The spec to create and the expiry, if any (aware UTC datetime)."""

    spec: RunspaceSpec
    profile: str
    expires_at: datetime | None


# --- quantities -----------------------------------------------------------------------


def parse_quantity(text: str) -> Decimal:
    """Parse a Kubernetes quantity (``500m``, ``1.5``, ``256Mi``, ``1e3``) into a Decimal.

    Raises ValueError if `text` is not a non-negative quantity.
    """
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"invalid quantity {text!r} (examples: 500m, 2, 256Mi, 1Gi)")
    number_text, suffix = match.group(1), match.group(2) or ""
    try:
        number = Decimal(number_text)
        if suffix[:1] in ("e", "E"):
            return number * (Decimal(10) ** int(suffix[1:]))
        return number * _SUFFIX_FACTORS[suffix]
    except (InvalidOperation, OverflowError, ValueError):
        raise ValueError(f"invalid quantity {text!r}") from None


# --- profile parsing ------------------------------------------------------------------


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping")
    return {str(k): str(v) for k, v in value.items()}


def _string_list(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(str(item) for item in value)


def _resources(value: Any, what: str) -> Resources:
    if value is None:
        return DEFAULT_RESOURCES
    if not isinstance(value, dict) or set(value) - {"requests", "limits"}:
        raise ValueError(f"{what} must be a mapping with 'requests' and/or 'limits'")
    requests = _string_map(value.get("requests"), f"{what}.requests")
    limits = _string_map(value.get("limits"), f"{what}.limits")
    for name, quantity in [*requests.items(), *limits.items()]:
        parse_quantity(quantity)
        if name not in _RESOURCE_NAMES:
            raise ValueError(f"{what}: unknown resource {name!r}")
    return Resources(requests=MappingProxyType(requests), limits=MappingProxyType(limits))


_PROFILE_KEYS = frozenset(Profile.__dataclass_fields__) - {"name"}


def parse_profile(name: str, body: Any) -> Profile:
    """Build a Profile from one entry of the config file's ``profiles`` table.

    Raises ValueError naming the invalid key.
    """
    if not _LABEL_NAME.match(name):
        raise ValueError(
            "a profile name must be a valid label value (letters, digits, '-', '_', '.')"
        )
    if not isinstance(body, dict):
        raise ValueError("a profile must be a mapping")
    unknown = sorted(set(body) - _PROFILE_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r} (known keys: {', '.join(sorted(_PROFILE_KEYS))})"
        )
    image = body.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ValueError("'image' is required and must be a non-empty string")

    port = body.get("port", 8080)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"'port' must be an integer 1-65535, got {port!r}")

    durations: dict[str, float | None] = {}
    for key in ("ttl_seconds", "max_ttl_seconds", "creation_timeout"):
        value = body.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            raise ValueError(f"'{key}' must be a positive number of seconds, got {value!r}")
        durations[key] = None if value is None else float(value)

    flags: dict[str, bool] = {}
    for key in ("allow_image", "allow_port", "allow_resources"):
        value = body.get(key, False)
        if not isinstance(value, bool):
            raise ValueError(f"'{key}' must be true or false, got {value!r}")
        flags[key] = value

    max_resources = _string_map(body.get("max_resources"), "'max_resources'")
    for resource, quantity in max_resources.items():
        if resource not in _RESOURCE_NAMES:
            raise ValueError(f"'max_resources': unknown resource {resource!r}")
        parse_quantity(quantity)

    return Profile(
        name=name,
        image=image.strip(),
        port=port,
        command=_string_list(body.get("command"), "'command'"),
        args=_string_list(body.get("args"), "'args'"),
        env=MappingProxyType(_string_map(body.get("env"), "'env'")),
        labels=MappingProxyType(_string_map(body.get("labels"), "'labels'")),
        resources=_resources(body.get("resources"), "'resources'"),
        allowed_env=_string_list(body.get("allowed_env"), "'allowed_env'") or (),
        allowed_label_prefixes=_string_list(
            body.get("allowed_label_prefixes"), "'allowed_label_prefixes'"
        )
        or (),
        max_resources=MappingProxyType(max_resources),
        ttl_seconds=durations["ttl_seconds"],
        max_ttl_seconds=durations["max_ttl_seconds"],
        creation_timeout=durations["creation_timeout"],
        **flags,
    )


# --- request resolution ---------------------------------------------------------------


def _check_image(profile: Profile, image: str | None, allowlist: Sequence[str]) -> str:
    if image is None or image == profile.image:
        return profile.image
    if not image or len(image) > _MAX_IMAGE_LENGTH or any(ch.isspace() for ch in image):
        raise PolicyError(
            "image", "must be a non-empty image reference without whitespace", forbidden=False
        )
    if not profile.allow_image:
        raise PolicyError(
            "image", f"profile {profile.name!r} does not allow choosing the image", forbidden=True
        )
    if not any(fnmatchcase(image, pattern) for pattern in allowlist):
        raise PolicyError(
            "image", f"image {image!r} does not match the daemon's image allowlist", forbidden=True
        )
    return image


def _check_port(profile: Profile, port: int | None) -> int:
    if port is None or port == profile.port:
        return profile.port
    if not 1 <= port <= 65535:
        raise PolicyError("port", "must be an integer 1-65535", forbidden=False)
    if not profile.allow_port:
        raise PolicyError(
            "port", f"profile {profile.name!r} does not allow choosing the port", forbidden=True
        )
    return port


def _check_env(profile: Profile, env: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(profile.env)
    if not env:
        return merged
    if len(env) > _MAX_ENV_ENTRIES:
        raise PolicyError("env", f"at most {_MAX_ENV_ENTRIES} entries are allowed", forbidden=False)
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise PolicyError(
                f"env.{key}", "is not a valid environment variable name", forbidden=False
            )
        if not any(fnmatchcase(key, pattern) for pattern in profile.allowed_env):
            raise PolicyError(
                f"env.{key}",
                f"profile {profile.name!r} does not allow setting this key",
                forbidden=True,
            )
        merged[key] = value
    return merged


def _check_label(key: str, value: str) -> None:
    prefix, sep, name = key.rpartition("/")
    if (
        sep and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))
    ) or not _LABEL_NAME.match(name):
        raise PolicyError(f"labels.{key}", "is not a valid Kubernetes label key", forbidden=False)
    if value and not _LABEL_NAME.match(value):
        raise PolicyError(
            f"labels.{key}",
            f"value {value!r} is not a valid Kubernetes label value",
            forbidden=False,
        )


def _check_labels(profile: Profile, labels: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(profile.labels)
    if not labels:
        return merged
    if len(labels) > _MAX_LABEL_ENTRIES:
        raise PolicyError(
            "labels", f"at most {_MAX_LABEL_ENTRIES} entries are allowed", forbidden=False
        )
    for key, value in labels.items():
        _check_label(key, value)
        reserved = key.startswith(_RESERVED_PREFIXES) or ".kubernetes.io/" in key
        allowed = any(key.startswith(prefix) for prefix in profile.allowed_label_prefixes)
        if reserved or not allowed:
            raise PolicyError(
                f"labels.{key}",
                f"profile {profile.name!r} does not allow this label key",
                forbidden=True,
            )
        merged[key] = value
    return merged


def _check_resources(
    profile: Profile, resources: Mapping[str, Mapping[str, str]] | None
) -> Resources:
    if not resources:
        return profile.resources
    if not profile.allow_resources:
        raise PolicyError(
            "resources",
            f"profile {profile.name!r} does not allow choosing resources",
            forbidden=True,
        )

    # Caller values replace the profile's per resource name; the rest of the profile stays.
    merged = {
        "requests": dict(profile.resources.requests),
        "limits": dict(profile.resources.limits),
    }
    parsed: dict[str, dict[str, Decimal]] = {"requests": {}, "limits": {}}
    for kind, values in resources.items():
        for name, quantity in values.items():
            where = f"resources.{kind}.{name}"
            if name not in _RESOURCE_NAMES:
                raise PolicyError(
                    where,
                    f"unknown resource; use one of {', '.join(_RESOURCE_NAMES)}",
                    forbidden=False,
                )
            try:
                amount = parse_quantity(quantity)
            except ValueError as exc:
                raise PolicyError(where, str(exc), forbidden=False) from None
            cap = profile.max_resources.get(name)
            if cap is not None and amount > parse_quantity(cap):
                raise PolicyError(
                    where, f"{quantity} exceeds the profile's maximum of {cap}", forbidden=True
                )
            merged[kind][name] = quantity
            parsed[kind][name] = amount

    # The API server rejects a request above its limit; name the field before it does.
    for name, request in merged["requests"].items():
        limit = merged["limits"].get(name)
        if limit is not None and parse_quantity(request) > parse_quantity(limit):
            raise PolicyError(
                f"resources.requests.{name}",
                f"request {request} exceeds the limit {limit}",
                forbidden=False,
            )
    return Resources(
        requests=MappingProxyType(merged["requests"]), limits=MappingProxyType(merged["limits"])
    )


def _check_ttl(profile: Profile, ttl_seconds: float | None, max_ttl_seconds: float) -> float | None:
    cap = min(profile.max_ttl_seconds or max_ttl_seconds, max_ttl_seconds)
    if ttl_seconds is None:
        return None if profile.ttl_seconds is None else min(profile.ttl_seconds, cap)
    if not ttl_seconds > 0:
        raise PolicyError("ttl_seconds", "must be a positive number of seconds", forbidden=False)
    if ttl_seconds > cap:
        raise PolicyError("ttl_seconds", f"exceeds the maximum of {cap:g} seconds", forbidden=True)
    return ttl_seconds


def resolve_request(
    profiles: Mapping[str, Profile],
    profile_name: str,
    *,
    image: str | None = None,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    port: int | None = None,
    resources: Mapping[str, Mapping[str, str]] | None = None,
    ttl_seconds: float | None = None,
    image_allowlist: Sequence[str] = (),
    max_ttl_seconds: float = 86400.0,
    now: datetime | None = None,
) -> ResolvedRequest:
    """Apply `profile_name`'s policy to a caller's request and return the spec to create.

    `resources` maps ``requests``/``limits`` to resource quantities. `now` (aware UTC,
    default: the current time) anchors the expiry. Raises PolicyError on the first field
    that is malformed or not allowed.
    """
    profile = profiles.get(profile_name)
    if profile is None:
        known = ", ".join(sorted(profiles))
        raise PolicyError(
            "profile", f"unknown profile {profile_name!r} (known profiles: {known})", forbidden=True
        )

    chosen_image = _check_image(profile, image, image_allowlist)
    chosen_port = _check_port(profile, port)
    chosen_env = _check_env(profile, env)
    chosen_labels = _check_labels(profile, labels)
    chosen_resources = _check_resources(profile, resources)
    ttl = _check_ttl(profile, ttl_seconds, max_ttl_seconds)

    # The daemon's own labels go last so that no profile or caller value can replace them.
    annotations: dict[str, str] = {}
    expires_at: datetime | None = None
    chosen_labels[PROFILE_LABEL] = profile.name
    if ttl is not None:
        expires_at = (now or datetime.now(UTC)) + timedelta(seconds=ttl)
        chosen_labels[EXPIRES_AT_LABEL] = str(int(expires_at.timestamp()))
        annotations[EXPIRES_AT_ANNOTATION] = expires_at.isoformat(timespec="seconds")

    spec = RunspaceSpec(
        image=chosen_image,
        port=chosen_port,
        command=profile.command,
        args=profile.args,
        env=MappingProxyType(chosen_env),
        resources=chosen_resources,
        labels=MappingProxyType(chosen_labels),
        annotations=MappingProxyType(annotations),
        creation_timeout=profile.creation_timeout,
    )
    return ResolvedRequest(spec=spec, profile=profile.name, expires_at=expires_at)
