"""Validation of a `RunspaceSpec` and the pod manifest built from it.

Validation runs before any API request and raises `ValueError` naming the field, so a
caller learns about bad input without a round trip. The image reference itself is left
to the kubelet, which reports InvalidImageName with its own message.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

from .._types import RunspaceSpec

__all__ = [
    "CREATE_TOKEN_ANNOTATION",
    "ID_LABEL",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "build_pod_manifest",
    "new_create_token",
    "new_runspace_id",
    "validate_id_prefix",
    "validate_spec",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "runspaced"
ID_LABEL = "runspaced.dev/id"
CREATE_TOKEN_ANNOTATION = "runspaced.dev/create-token"
CONTAINER_NAME = "runspace"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_runspace_id(prefix: str) -> str:
    """Return a fresh id that is a valid DNS-1123 label: `prefix` plus 10 random characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def validate_id_prefix(prefix: str) -> None:
    """Raise ValueError unless `prefix` plus a random suffix forms a DNS-1123 label."""
    if len(prefix) > 40 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*)?", prefix):
        raise ValueError(
            f"invalid id_prefix {prefix!r}: use at most 40 lowercase letters, digits or '-', "
            "starting with a letter or digit"
        )


def _check_qualified_key(field: str, key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise ValueError(f"invalid {field} key {key!r}: the prefix must be a DNS subdomain")
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        raise ValueError(
            f"invalid {field} key {key!r}: the name must be 1-63 alphanumeric characters, "
            "'-', '_' or '.', starting and ending with an alphanumeric character"
        )


def validate_spec(spec: RunspaceSpec) -> None:
    """Raise ValueError naming the first invalid field of `spec`."""
    if not isinstance(spec.image, str) or not spec.image.strip():
        raise ValueError("invalid image: must not be empty")
    if spec.image != spec.image.strip():
        raise ValueError(f"invalid image {spec.image!r}: leading or trailing whitespace")

    if isinstance(spec.port, bool) or not isinstance(spec.port, int) or not 1 <= spec.port <= 65535:
        raise ValueError(f"invalid port {spec.port!r}: must be an integer from 1 to 65535")

    for name in spec.env:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ValueError(
                f"invalid env name {name!r}: use letters, digits, '_', '-' or '.', "
                "not starting with a digit"
            )
        if not isinstance(spec.env[name], str):
            raise ValueError(f"invalid env value for {name!r}: must be a string")

    for section_name, section in (
        ("resources.requests", spec.resources.requests),
        ("resources.limits", spec.resources.limits),
    ):
        for resource, quantity in section.items():
            _check_qualified_key(section_name, resource)
            if not isinstance(quantity, str) or not _QUANTITY.match(quantity):
                raise ValueError(
                    f"invalid {section_name}[{resource!r}] {quantity!r}: "
                    "expected a Kubernetes quantity such as '500m', '2' or '256Mi'"
                )

    for key, value in spec.labels.items():
        _check_qualified_key("label", key)
        if key in (MANAGED_BY_LABEL, ID_LABEL):
            raise ValueError(f"invalid label {key!r}: this label is set by runspaced")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            raise ValueError(
                f"invalid label value {value!r} for {key!r}: at most 63 alphanumeric "
                "characters, '-', '_' or '.', starting and ending with an alphanumeric character"
            )

    for key, value in spec.annotations.items():
        _check_qualified_key("annotation", key)
        if not isinstance(value, str):
            raise ValueError(f"invalid annotation value for {key!r}: must be a string")

    for key, value in spec.node_selector.items():
        _check_qualified_key("node_selector", key)
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise ValueError(f"invalid node_selector value {value!r} for {key!r}")

    if spec.image_pull_policy is not None and spec.image_pull_policy not in _PULL_POLICIES:
        raise ValueError(
            f"invalid image_pull_policy {spec.image_pull_policy!r}: "
            f"expected one of {', '.join(_PULL_POLICIES)}"
        )

    for field_name in ("command", "args"):
        value = getattr(spec, field_name)
        if value is not None and (
            isinstance(value, str) or not all(isinstance(part, str) for part in value)
        ):
            raise ValueError(f"invalid {field_name}: must be a list of strings")

    for field_name in ("creation_timeout", "scheduling_timeout"):
        value = getattr(spec, field_name)
        if value is not None and not value > 0:
            raise ValueError(
                f"invalid {field_name} {value!r}: must be a positive number of seconds"
            )


def build_pod_manifest(
    spec: RunspaceSpec,
    *,
    runspace_id: str,
    namespace: str,
    create_token: str,
    run_as_user: int | None,
    readiness_probe: bool,
    extra_labels: Mapping[str, str],
) -> dict[str, Any]:
    """Return the pod object for one runspace, with safe defaults.

    The pod never restarts its container (restartPolicy Never), mounts no service
    account token, runs as non-root with no privilege escalation, drops every
    capability and uses the RuntimeDefault seccomp profile. With `readiness_probe`,
    a TCP probe on the port makes the Ready condition mean "the endpoint accepts
    connections".
    """
    labels = {
        **extra_labels,
        **spec.labels,
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        ID_LABEL: runspace_id,
    }
    annotations = {**spec.annotations, CREATE_TOKEN_ANNOTATION: create_token}

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "ports": [{"name": "runspace", "containerPort": spec.port, "protocol": "TCP"}],
        "resources": {
            "requests": dict(spec.resources.requests),
            "limits": dict(spec.resources.limits),
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
    }
    if spec.command is not None:
        container["command"] = list(spec.command)
    if spec.args is not None:
        container["args"] = list(spec.args)
    if spec.env:
        container["env"] = [{"name": name, "value": value} for name, value in spec.env.items()]
    if spec.image_pull_policy is not None:
        container["imagePullPolicy"] = spec.image_pull_policy
    if readiness_probe:
        container["readinessProbe"] = {
            "tcpSocket": {"port": spec.port},
            "periodSeconds": 1,
            "failureThreshold": 1,
        }

    pod_security: dict[str, Any] = {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_user is not None:
        pod_security["runAsUser"] = run_as_user
        pod_security["runAsGroup"] = run_as_user

    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security,
        "containers": [container],
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)

    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": runspace_id,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": pod_spec,
    }


def new_create_token() -> str:
    """Return a random token that marks a create request as ours, to recognise it after a retry."""
    return secrets.token_hex(8)
