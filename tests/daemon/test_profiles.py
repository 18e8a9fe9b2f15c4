"""The profile policy: what callers may override, and the errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from runspaced._daemon.profiles import (
    EXPIRES_AT_ANNOTATION,
    EXPIRES_AT_LABEL,
    PROFILE_LABEL,
    PolicyError,
    parse_profile,
    parse_quantity,
    resolve_request,
)

STRICT = parse_profile("strict", {"image": "python:3.12-slim", "port": 8000})
OPEN = parse_profile(
    "open",
    {
        "image": "python:3.12-slim",
        "env": {"MODE": "sidecar"},
        "labels": {"team": "data"},
        "allow_image": True,
        "allow_port": True,
        "allow_resources": True,
        "allowed_env": ["APP_*"],
        "allowed_label_prefixes": ["example.com/"],
        "max_resources": {"cpu": "2", "memory": "1Gi"},
        "ttl_seconds": 600,
        "max_ttl_seconds": 3600,
        "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    },
)
PROFILES = {"strict": STRICT, "open": OPEN}
ALLOW = ("python:*", "ghcr.io/acme/*")


def policy_error(**kwargs: object) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        resolve_request(PROFILES, image_allowlist=ALLOW, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_profile_defaults_build_spec() -> None:
    resolved = resolve_request(PROFILES, "strict")
    assert resolved.spec.image == "python:3.12-slim"
    assert resolved.spec.port == 8000
    assert resolved.spec.labels[PROFILE_LABEL] == "strict"
    assert resolved.expires_at is None
    assert EXPIRES_AT_LABEL not in resolved.spec.labels


def test_unknown_profile_is_forbidden() -> None:
    error = policy_error(profile_name="nope")
    assert error.field == "profile"
    assert error.forbidden
    assert "strict" in error.message


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"image": "python:3.13"}, "image"),
        ({"port": 9000}, "port"),
        ({"env": {"APP_X": "1"}}, "env.APP_X"),
        ({"labels": {"example.com/x": "1"}}, "labels.example.com/x"),
        ({"resources": {"limits": {"cpu": "1"}}}, "resources"),
    ],
)
def test_strict_profile_rejects_overrides(overrides: dict[str, object], field: str) -> None:
    error = policy_error(profile_name="strict", **overrides)
    assert error.field == field
    assert error.forbidden


def test_same_values_as_profile_are_not_overrides() -> None:
    resolved = resolve_request(PROFILES, "strict", image="python:3.12-slim", port=8000)
    assert resolved.spec.image == "python:3.12-slim"


def test_open_profile_applies_overrides() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    resolved = resolve_request(
        PROFILES,
        "open",
        image="ghcr.io/acme/app:1",
        port=9000,
        env={"APP_LEVEL": "debug"},
        labels={"example.com/owner": "ana"},
        resources={"limits": {"cpu": "2"}},
        ttl_seconds=60,
        image_allowlist=ALLOW,
        now=now,
    )
    spec = resolved.spec
    assert spec.image == "ghcr.io/acme/app:1"
    assert spec.port == 9000
    assert dict(spec.env) == {"MODE": "sidecar", "APP_LEVEL": "debug"}
    assert spec.labels["team"] == "data"
    assert spec.labels["example.com/owner"] == "ana"
    assert dict(spec.resources.limits) == {"cpu": "2", "memory": "512Mi"}
    assert dict(spec.resources.requests) == {"cpu": "100m"}
    assert resolved.expires_at == datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    assert spec.labels[EXPIRES_AT_LABEL] == str(int(resolved.expires_at.timestamp()))
    assert spec.annotations[EXPIRES_AT_ANNOTATION] == "2030-01-01T00:01:00+00:00"


def test_profile_ttl_is_default() -> None:
    resolved = resolve_request(PROFILES, "open")
    assert resolved.expires_at is not None


@pytest.mark.parametrize(
    ("overrides", "field", "forbidden"),
    [
        ({"image": "docker.io/evil/miner"}, "image", True),
        ({"image": "python 3"}, "image", False),
        ({"port": 70000}, "port", False),
        ({"env": {"PATH": "/tmp"}}, "env.PATH", True),
        ({"env": {"APP_BAD=X": "1"}}, "env.APP_BAD=X", False),
        ({"labels": {"runspaced.dev/id": "x"}}, "labels.runspaced.dev/id", True),
        ({"labels": {"other.org/x": "1"}}, "labels.other.org/x", True),
        ({"labels": {"example.com/x": "bad value"}}, "labels.example.com/x", False),
        ({"labels": {"Example.com/x": "1"}}, "labels.Example.com/x", False),
        ({"resources": {"limits": {"cpu": "4"}}}, "resources.limits.cpu", True),
        ({"resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu", False),
        ({"resources": {"limits": {"gpu": "1"}}}, "resources.limits.gpu", False),
        ({"resources": {"requests": {"cpu": "1500m"}}}, "resources.requests.cpu", False),
        ({"ttl_seconds": 7200}, "ttl_seconds", True),
        ({"ttl_seconds": -1}, "ttl_seconds", False),
    ],
)
def test_open_profile_rejects(overrides: dict[str, object], field: str, forbidden: bool) -> None:
    error = policy_error(profile_name="open", **overrides)
    assert error.field == field
    assert error.forbidden is forbidden


def test_daemon_wide_ttl_cap_wins() -> None:
    with pytest.raises(PolicyError) as caught:
        resolve_request(PROFILES, "open", ttl_seconds=1000, max_ttl_seconds=500)
    assert caught.value.field == "ttl_seconds"


def test_empty_allowlist_rejects_image() -> None:
    with pytest.raises(PolicyError) as caught:
        resolve_request(PROFILES, "open", image="python:3.13")
    assert caught.value.field == "image"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1Ki", Decimal(1024)),
        ("1e3", Decimal(1000)),
        ("1.5G", Decimal("1.5e9")),
    ],
)
def test_parse_quantity(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-1", "1Xi", "1.2.3"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'image' is required"),
        ({"image": "x", "port": 0}, "'port'"),
        ({"image": "x", "shell": True}, "unknown key 'shell'"),
        ({"image": "x", "allow_image": "yes"}, "'allow_image'"),
        ({"image": "x", "max_resources": {"gpu": "1"}}, "unknown resource"),
        ({"image": "x", "ttl_seconds": 0}, "'ttl_seconds'"),
    ],
)
def test_parse_profile_rejects(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profile("p", body)


def test_parse_profile_rejects_bad_name() -> None:
    with pytest.raises(ValueError, match="profile name"):
        parse_profile("bad name", {"image": "x"})
