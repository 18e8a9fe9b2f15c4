"""Loading a kubernetes-asyncio `ApiClient` from a kubeconfig or the in-cluster account."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LoadedClient", "load_api_client"]

_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True, slots=True)
class LoadedClient:
    """A ready `ApiClient`, the namespace its configuration names (or None) and where it came from."""

    api_client: Any
    namespace: str | None
    source: str


async def load_api_client(
    path: str | os.PathLike[str] | None = None, context: str | None = None
) -> LoadedClient:
    """Load a client from `path`, $KUBECONFIG or ~/.kube/config, else the in-cluster account.

    Raises FileNotFoundError when `path` is given but does not exist, and the
    kubernetes-asyncio ConfigException when neither a kubeconfig nor an in-cluster
    service account is available.
    """
    from kubernetes_asyncio import config as kube_config
    from kubernetes_asyncio.client import ApiClient, Configuration

    candidate, exists = _locate_kubeconfig(path)
    configuration = Configuration()
    if exists:
        loader = await kube_config.load_kube_config(
            config_file=str(candidate),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        current = loader.current_context or {}
        namespace = (current.get("context") or {}).get("namespace")
        return LoadedClient(ApiClient(configuration=configuration), namespace, str(candidate))
    if path is not None:
        raise FileNotFoundError(f"kubeconfig not found: {candidate}")

    kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return LoadedClient(
        ApiClient(configuration=configuration), _in_cluster_namespace(), "in-cluster"
    )


def _locate_kubeconfig(path: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    kubeconfig = path or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
    candidate = Path(kubeconfig).expanduser() if kubeconfig else Path.home() / ".kube/config"
    return candidate, candidate.is_file()


def _in_cluster_namespace() -> str | None:
    if not _SERVICE_ACCOUNT_NAMESPACE.is_file():
        return None
    return _SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
