"""The ``runspaced sim`` command and the test helpers."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client, config

from runspaced.sim.cli import _rare_full_collections, is_loopback, parse_listen
from runspaced.testing import running_sim_cluster


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)
    with pytest.raises(ValueError):
        parse_listen("8080")


def test_rare_full_collections_restore() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()

    with _rare_full_collections():
        inside = gc.get_threshold()
        frozen_inside = gc.get_freeze_count()

    assert inside[0] > before[0]
    assert inside[2] > before[2]
    assert frozen_inside > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_loopback_check() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.5.5.5")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("10.1.2.3")


def test_rejects_non_loopback_listen(capsys: pytest.CaptureFixture[str]) -> None:
    from runspaced.cli import main

    assert main(["sim", "--listen", "0.0.0.0:6443"]) == 2
    assert "not a loopback address" in capsys.readouterr().err


@pytest.mark.anyio
async def test_sim_command_serves_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runspaced",
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--kubeconfig-out",
        str(kubeconfig),
        "--time-scale",
        "0.05",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        printed: list[str] = []
        while not any(line.startswith("kubeconfig: ") for line in printed):
            raw = await asyncio.wait_for(process.stdout.readline(), 30)
            assert raw, "runspaced sim exited before printing the kubeconfig path"
            printed.append(raw.decode().strip())
        url = next(line for line in printed if line.startswith("API server: ")).split()[-1]
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url

        api = await config.new_client_from_config(config_file=str(kubeconfig))
        try:
            namespaces = await client.CoreV1Api(api).list_namespace()
            assert "default" in {n.metadata.name for n in namespaces.items}
        finally:
            await api.close()
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        remaining_out, errors = await process.communicate()
    assert code == 0
    stdout_lines = [*printed, *remaining_out.decode().splitlines()]
    assert all("sim.server.started" not in line for line in stdout_lines)
    assert "sim.server.started" in errors.decode()


@pytest.mark.anyio
async def test_running_sim_cluster_helper() -> None:
    async with running_sim_cluster(nodes=1) as cluster:
        kubeconfig = cluster.kubeconfig_path
        assert kubeconfig.exists()
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        assert len(cluster.store.list("nodes")) <= 1
    assert not kubeconfig.exists()


def test_token_file_must_not_be_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runspaced.cli import main

    token_file = tmp_path / "token"
    token_file.write_text("\n")

    assert main(["sim", "--token-file", str(token_file)]) == 2
    assert "is empty" in capsys.readouterr().err


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    from runspaced import __version__
    from runspaced.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"runspaced {__version__}"
