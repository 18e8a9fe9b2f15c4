"""Daemon configuration: precedence, validation messages and the non-loopback refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from runspaced._daemon.config import ConfigError, is_loopback_host, load_config

PROFILE_YAML = """
profiles:
  web:
    image: python:3.12-slim
    port: 8000
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_flags_win_over_env_over_file(tmp_path: Path) -> None:
    config_file = write(
        tmp_path,
        "c.yaml",
        PROFILE_YAML + "namespace: from-file\nmax_runspaces: 3\nlog_level: debug\n",
    )
    env = {"RUNSPACED_NAMESPACE": "from-env", "RUNSPACED_MAX_RUNSPACES": "4"}
    config = load_config({"config": config_file, "namespace": "from-flag"}, env)
    assert config.namespace == "from-flag"
    assert config.max_runspaces == 4
    assert config.log_level == "debug"
    assert config.profiles["web"].port == 8000


def test_config_path_from_env(tmp_path: Path) -> None:
    config_file = write(tmp_path, "c.yaml", PROFILE_YAML)
    config = load_config({}, {"RUNSPACED_CONFIG": config_file})
    assert set(config.profiles) == {"web"}


def test_toml_file(tmp_path: Path) -> None:
    config_file = write(
        tmp_path,
        "c.toml",
        'listen = "127.0.0.1:9999"\nimage_allowlist = ["python:*"]\n[profiles.web]\nimage = "python:3.12"\nallow_image = true\n',
    )
    config = load_config({"config": config_file}, {})
    assert config.listen_port == 9999
    assert config.image_allowlist == ("python:*",)
    assert config.profiles["web"].allow_image


def test_invalid_env_value_names_setting(tmp_path: Path) -> None:
    config_file = write(tmp_path, "c.yaml", PROFILE_YAML)
    with pytest.raises(
        ConfigError, match="max_body_bytes from environment variable RUNSPACED_MAX_BODY_BYTES"
    ):
        load_config({"config": config_file}, {"RUNSPACED_MAX_BODY_BYTES": "lots"})


def test_unknown_file_key_is_named(tmp_path: Path) -> None:
    config_file = write(tmp_path, "c.yaml", PROFILE_YAML + "max_runspace: 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'max_runspace'"):
        load_config({"config": config_file}, {})


def test_invalid_profile_is_named(tmp_path: Path) -> None:
    config_file = write(tmp_path, "c.yaml", "profiles:\n  web:\n    port: 80\n")
    with pytest.raises(ConfigError, match=r"profiles\.web.*'image' is required"):
        load_config({"config": config_file}, {})


def test_missing_profiles_rejected() -> None:
    with pytest.raises(ConfigError, match="no profiles are defined"):
        load_config({}, {})


def test_simulate_gets_default_profile() -> None:
    config = load_config({"simulate": True}, {})
    assert "default" in config.profiles


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config({"config": str(tmp_path / "missing.yaml")}, {})


def test_invalid_listen_is_named() -> None:
    with pytest.raises(ConfigError, match="invalid setting listen from flag --listen"):
        load_config({"simulate": True, "listen": "nowhere"}, {})


def test_non_loopback_without_token_refused() -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0:8080 without a token"):
        load_config({"simulate": True, "listen": "0.0.0.0:8080"}, {})


def test_non_loopback_with_token_accepted(tmp_path: Path) -> None:
    token_file = write(tmp_path, "token", "s3cret-token\n")
    config = load_config({"simulate": True, "listen": "0.0.0.0:8080", "token_file": token_file}, {})
    assert config.token == "s3cret-token"
    assert "s3cret" not in repr(config)


def test_non_loopback_insecure_flag_accepted() -> None:
    config = load_config({"simulate": True, "listen": "[::]:8080", "insecure_no_auth": True}, {})
    assert config.listen_host == "::"
    assert config.token is None


def test_empty_token_file_rejected(tmp_path: Path) -> None:
    token_file = write(tmp_path, "token", "\n")
    with pytest.raises(ConfigError, match=r"token_file.*is empty"):
        load_config({"simulate": True, "token_file": token_file}, {})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_simulate_default_profile_accepts_any_image() -> None:
    config = load_config({"simulate": True}, {})
    assert config.image_allowlist == ("*",)
    assert config.profiles["default"].allow_image
