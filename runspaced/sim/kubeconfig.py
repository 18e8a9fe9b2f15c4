"""Kubeconfig files that point clients (kubectl, kubernetes-asyncio) at the simulator."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

__all__ = ["CONTEXT_NAME", "write_kubeconfig"]

CONTEXT_NAME = "runspaced-sim"


def write_kubeconfig(
    path: Path, *, server: str, token: str, ca_pem: bytes | None = None, namespace: str = "default"
) -> Path:
    """Write a kubeconfig with one cluster, user (bearer token) and current context.

    The file is created with mode 0600 because it contains the token. `ca_pem` is the
    certificate clients must trust for an https `server`. Returns `path`.
    """
    cluster: dict[str, str] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": cluster}],
        "users": [{"name": CONTEXT_NAME, "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT_NAME,
                "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        yaml.safe_dump(config, stream, sort_keys=False)
    return path
