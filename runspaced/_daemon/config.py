"""Daemon configuration: one validated `DaemonConfig` from a file, the environment and flags.

Precedence, highest first: command-line flags, ``RUNSPACED_*`` environment variables, the
config file (YAML or TOML, chosen by the file suffix), built-in defaults. Every value is
checked at start, and a `ConfigError` names the setting and where its value came from.
Profiles are defined only in the config file, under ``profiles``.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .profiles import Profile, parse_profile

__all__ = [
    "ENV_PREFIX",
    "ConfigError",
    "DaemonConfig",
    "is_loopback_host",
    "load_config",
    "simulate_default_profile",
]

ENV_PREFIX = "RUNSPACED_"

_LOG_FORMATS = ("auto", "json", "console")
_LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the setting and its source."""


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Validated daemon settings. Durations are in seconds, sizes in bytes.

    `namespace` None means the kubeconfig context's namespace (or ``default``).
    `token` is the bearer token read from `token_file`, or None when authentication is off.
    `engine` contains extra `EngineSettings` keyword settings from the file's ``engine`` table.
    """

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    simulate: bool = False
    simulate_time_scale: float = 1.0
    simulate_scenario: str | None = None
    token_file: str | None = None
    token: str | None = field(default=None, repr=False)
    insecure_no_auth: bool = False
    max_body_bytes: int = 65536
    max_runspaces: int = 100
    retry_after_seconds: int = 5
    max_wait_seconds: float = 600.0
    max_ttl_seconds: float = 86400.0
    shutdown_timeout: float = 10.0
    event_buffer: int = 1024
    keepalive_seconds: float = 15.0
    log_format: str = "auto"
    log_level: str = "info"
    image_allowlist: tuple[str, ...] = ()
    profiles: Mapping[str, Profile] = field(default_factory=lambda: MappingProxyType({}))
    engine: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def listen(self) -> str:
        """The listen address as ``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{host}:{self.listen_port}"


def is_loopback_host(host: str) -> bool:
    """Return True when `host` is ``localhost`` or a loopback IP address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def simulate_default_profile() -> Profile:
    """Return the profile `--simulate` uses when the config defines none.

    It is permissive on purpose (any image, env key, label and port) because the pods
    only exist in the in-process simulated cluster.
    """
    return parse_profile(
        "default",
        {
            "image": "python:3.12-slim",
            "port": 8080,
            "allow_image": True,
            "allow_port": True,
            "allow_resources": True,
            "allowed_env": ["*"],
            "allowed_label_prefixes": [""],
        },
    )


# --- parsing of single values ---------------------------------------------------------


def _parse_listen(value: Any) -> tuple[str, int]:
    text = str(value).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"invalid port {port_text!r} in {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    return host, port


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _parse_positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a positive integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a positive integer, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"expected a positive integer, got {number}")
    return number


def _parse_positive_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a positive number, got {value!r}")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a positive number of seconds, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ValueError(f"expected a positive number of seconds, got {number}")
    return number


def _parse_text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise ValueError("expected a non-empty string")
    return text


def _parse_choice(choices: tuple[str, ...]) -> Any:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _parse_patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [str(item).strip() for item in value]
    else:
        raise ValueError(f"expected a list of glob patterns, got {type(value).__name__}")
    return tuple(item for item in items if item)


# Setting name -> parser. Each name is also a config file key and, upper-cased with the
# RUNSPACED_ prefix, an environment variable.
_PARSERS: dict[str, Any] = {
    "listen": _parse_listen,
    "kubeconfig": _parse_text,
    "context": _parse_text,
    "namespace": _parse_text,
    "simulate": _parse_bool,
    "simulate_time_scale": _parse_positive_float,
    "simulate_scenario": _parse_text,
    "token_file": _parse_text,
    "insecure_no_auth": _parse_bool,
    "max_body_bytes": _parse_positive_int,
    "max_runspaces": _parse_positive_int,
    "retry_after_seconds": _parse_positive_int,
    "max_wait_seconds": _parse_positive_float,
    "max_ttl_seconds": _parse_positive_float,
    "shutdown_timeout": _parse_positive_float,
    "event_buffer": _parse_positive_int,
    "keepalive_seconds": _parse_positive_float,
    "log_format": _parse_choice(_LOG_FORMATS),
    "log_level": _parse_choice(_LOG_LEVELS),
    "image_allowlist": _parse_patterns,
}
_FILE_ONLY = ("profiles", "engine")


# --- sources --------------------------------------------------------------------------


def _read_file(path: str) -> dict[str, Any]:
    file_path = Path(path).expanduser()
    try:
        raw = file_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc

    try:
        if file_path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = yaml.safe_load(raw)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid config file {path}: {exc}") from exc

    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config file {path}: the top level must be a mapping")
    unknown = sorted(set(data) - set(_PARSERS) - set(_FILE_ONLY))
    if unknown:
        known = ", ".join(sorted([*_PARSERS, *_FILE_ONLY]))
        raise ConfigError(f"unknown setting {unknown[0]!r} in {path} (known settings: {known})")
    return data


def _read_environment(environ: Mapping[str, str]) -> dict[str, str]:
    # Only known names are read: RUNSPACED_URL and similar belong to the client commands.
    values: dict[str, str] = {}
    for name in _PARSERS:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            values[name] = environ[key]
    return values


def _read_token(path: str) -> str:
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid setting token_file: cannot read {path}: {exc}") from exc
    if not token:
        raise ConfigError(f"invalid setting token_file: {path} is empty")
    if any(ch.isspace() for ch in token) or not token.isprintable():
        raise ConfigError(
            f"invalid setting token_file: the token in {path} contains whitespace or "
            "control characters"
        )
    return token


# --- assembly -------------------------------------------------------------------------


def load_config(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> DaemonConfig:
    """Merge defaults, the config file, the environment and `flags` into a `DaemonConfig`.

    `flags` maps setting names to values given on the command line; None values are
    ignored. The config file is ``flags["config"]``, else ``RUNSPACED_CONFIG``, else none.
    Raises ConfigError naming the first invalid setting and its source, or when the daemon
    would listen beyond loopback without a token and without ``insecure_no_auth``.
    """
    environ = os.environ if environ is None else environ

    # Collect raw values with their source, lowest precedence first, so later ones win.
    config_path = flags.get("config") or environ.get(ENV_PREFIX + "CONFIG") or None
    file_values = _read_file(config_path) if config_path else {}
    raw: dict[str, tuple[Any, str]] = {}
    for name, value in file_values.items():
        if name in _PARSERS:
            raw[name] = (value, f"config file {config_path}")
    for name, value in _read_environment(environ).items():
        raw[name] = (value, f"environment variable {ENV_PREFIX}{name.upper()}")
    for name, value in flags.items():
        if name in _PARSERS and value is not None:
            raw[name] = (value, f"flag --{name.replace('_', '-')}")

    # Parse every value, naming the setting and the source on failure.
    settings: dict[str, Any] = {}
    for name, (value, source) in raw.items():
        try:
            settings[name] = _PARSERS[name](value)
        except ValueError as exc:
            raise ConfigError(f"invalid setting {name} from {source}: {exc}") from None

    if "listen" in settings:
        settings["listen_host"], settings["listen_port"] = settings.pop("listen")
    if settings.get("token_file"):
        settings["token"] = _read_token(settings["token_file"])

    profiles = _parse_profiles(file_values.get("profiles"), config_path)
    if not profiles and settings.get("simulate"):
        # Only simulated pods exist, so the default profile accepts any image.
        profiles = {"default": simulate_default_profile()}
        settings.setdefault("image_allowlist", ("*",))
    if not profiles:
        raise ConfigError(
            "invalid setting profiles: no profiles are defined; add a 'profiles' table to "
            "the config file (or use --simulate for a default profile)"
        )
    settings["profiles"] = MappingProxyType(profiles)

    engine = file_values.get("engine") or {}
    if not isinstance(engine, dict):
        raise ConfigError(f"invalid setting engine in {config_path}: expected a mapping")
    settings["engine"] = MappingProxyType(dict(engine))

    config = DaemonConfig(**settings)
    _check_exposure(config)
    return config


def _parse_profiles(value: Any, path: str | None) -> dict[str, Profile]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"invalid setting profiles in {path}: expected a mapping of name to profile"
        )
    profiles: dict[str, Profile] = {}
    for name, body in value.items():
        try:
            profiles[str(name)] = parse_profile(str(name), body)
        except ValueError as exc:
            raise ConfigError(f"invalid setting profiles.{name} in {path}: {exc}") from None
    return profiles


def _check_exposure(config: DaemonConfig) -> None:
    # A daemon reachable from other hosts without a token would let anyone start pods.
    if is_loopback_host(config.listen_host) or config.token or config.insecure_no_auth:
        return
    raise ConfigError(
        f"invalid setting listen: refusing to listen on {config.listen} without a token; "
        "set --token-file, listen on 127.0.0.1, or pass --insecure-no-auth to accept "
        "unauthenticated requests from the network"
    )
