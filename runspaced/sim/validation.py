"""Validation and defaulting of objects on create, with the real API server's messages.

Pods get the defaults the API server and its default admission plugins apply
(restartPolicy, terminationGracePeriodSeconds, dnsPolicy, schedulerName,
serviceAccountName, the not-ready/unreachable tolerations, imagePullPolicy, qosClass).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from .status import ApiError, FieldError, invalid

__all__ = [
    "apply_generate_name",
    "default_pod",
    "pod_qos_class",
    "validate_metadata",
    "validate_pod",
    "validate_pod_update",
]

JsonObject = dict[str, Any]

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")
_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_SUBDOMAIN}$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is '" + _DNS1123_SUBDOMAIN + "')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '" + _DNS1123_LABEL + "')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)

# The alphabet and length the API server uses for generateName suffixes.
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATE_LENGTH = 5


def apply_generate_name(obj: JsonObject) -> None:
    """Set metadata.name from metadata.generateName plus a random suffix when name is unset."""
    metadata = obj.setdefault("metadata", {})
    prefix = metadata.get("generateName")
    if not metadata.get("name") and prefix:
        suffix = "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(_GENERATE_LENGTH))
        metadata["name"] = prefix[: 63 - _GENERATE_LENGTH] + suffix


def _validate_labels(labels: Any, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(labels, dict):
        return errors
    for key, value in labels.items():
        name = key.rsplit("/", 1)[-1]
        if not _QUALIFIED_NAME_RE.match(name) or len(name) > 63:
            errors.append(FieldError("invalid", path, _QUALIFIED_NAME_MESSAGE, key))
        if not isinstance(value, str):
            continue
        if len(value) > 63:
            errors.append(
                FieldError("invalid", f"{path}", "must be no more than 63 characters", value)
            )
        elif not _LABEL_VALUE_RE.match(value):
            errors.append(FieldError("invalid", f"{path}", _LABEL_VALUE_MESSAGE, value))
    return errors


def validate_metadata(obj: JsonObject, name_format: str = "subdomain") -> list[FieldError]:
    """Return the metadata errors: missing or malformed name, malformed labels."""
    metadata = obj.get("metadata") or {}
    errors: list[FieldError] = []
    name = metadata.get("name")
    if not name:
        errors.append(FieldError("required", "metadata.name", "name or generateName is required"))
    elif name_format == "label" and (len(name) > 63 or not _LABEL_RE.match(name)):
        errors.append(FieldError("invalid", "metadata.name", LABEL_MESSAGE, name))
    elif name_format == "subdomain":
        if len(name) > 253:
            errors.append(
                FieldError("invalid", "metadata.name", "must be no more than 253 characters", name)
            )
        elif not _SUBDOMAIN_RE.match(name):
            errors.append(FieldError("invalid", "metadata.name", SUBDOMAIN_MESSAGE, name))
    errors.extend(_validate_labels(metadata.get("labels"), "metadata.labels"))
    return errors


_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PROTOCOLS = ("TCP", "UDP", "SCTP")


def _validate_containers(containers: Any, path: str, required: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    if not containers:
        if required:
            errors.append(FieldError("required", path))
        return errors
    seen: set[str] = set()
    for index, container in enumerate(containers):
        at = f"{path}[{index}]"
        name = container.get("name")
        if not name:
            errors.append(FieldError("required", f"{at}.name"))
        elif len(name) > 63 or not _LABEL_RE.match(name):
            errors.append(FieldError("invalid", f"{at}.name", LABEL_MESSAGE, name))
        elif name in seen:
            errors.append(FieldError("duplicate", f"{at}.name", value=name))
        else:
            seen.add(name)
        image = container.get("image")
        if not image or not str(image).strip():
            errors.append(FieldError("required", f"{at}.image"))
        policy = container.get("imagePullPolicy")
        if policy is not None and policy not in _PULL_POLICIES:
            errors.append(
                FieldError(
                    "not_supported",
                    f"{at}.imagePullPolicy",
                    'supported values: "Always", "IfNotPresent", "Never"',
                    policy,
                )
            )
        for port_index, port in enumerate(container.get("ports") or []):
            port_path = f"{at}.ports[{port_index}]"
            number = port.get("containerPort")
            if number is None or number == 0:
                errors.append(FieldError("required", f"{port_path}.containerPort"))
            elif not isinstance(number, int) or not 1 <= number <= 65535:
                errors.append(
                    FieldError(
                        "invalid",
                        f"{port_path}.containerPort",
                        "must be between 1 and 65535, inclusive",
                        number,
                    )
                )
            protocol = port.get("protocol")
            if protocol is not None and protocol not in _PROTOCOLS:
                errors.append(
                    FieldError(
                        "not_supported",
                        f"{port_path}.protocol",
                        'supported values: "SCTP", "TCP", "UDP"',
                        protocol,
                    )
                )
    return errors


def validate_pod(pod: JsonObject) -> None:
    """Validate a defaulted pod on create. Raises ApiError (422 Invalid) on any error."""
    errors = validate_metadata(pod)
    spec = pod.get("spec") or {}
    errors.extend(_validate_containers(spec.get("containers"), "spec.containers", True))
    errors.extend(_validate_containers(spec.get("initContainers"), "spec.initContainers", False))
    policy = spec.get("restartPolicy")
    if policy not in _RESTART_POLICIES:
        errors.append(
            FieldError(
                "not_supported",
                "spec.restartPolicy",
                'supported values: "Always", "OnFailure", "Never"',
                policy,
            )
        )
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errors.append(
            FieldError(
                "invalid",
                "spec.terminationGracePeriodSeconds",
                "must be greater than or equal to 0",
                grace,
            )
        )
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline < 1):
        errors.append(
            FieldError(
                "invalid",
                "spec.activeDeadlineSeconds",
                "must be between 1 and 2147483647, inclusive",
                deadline,
            )
        )
    if errors:
        name = (pod.get("metadata") or {}).get("name") or ""
        raise invalid("Pod", name, errors)


# Fields of a pod's spec that an update may change; every other spec change is rejected.
_MUTABLE_SPEC_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _spec_without_mutable_fields(spec: JsonObject) -> JsonObject:
    stripped = {
        k: v
        for k, v in spec.items()
        if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")
    }
    for key in ("containers", "initContainers"):
        if key in stripped:
            stripped[key] = [{k: v for k, v in c.items() if k != "image"} for c in stripped[key]]
    return stripped


def validate_pod_update(old: JsonObject, new: JsonObject) -> None:
    """Reject a pod update that changes an immutable spec field (422 Invalid)."""
    errors = _validate_labels((new.get("metadata") or {}).get("labels"), "metadata.labels")
    old_spec = _spec_without_mutable_fields(old.get("spec") or {})
    new_spec = _spec_without_mutable_fields(new.get("spec") or {})
    if old_spec != new_spec:
        errors.append(FieldError("forbidden", "spec", _MUTABLE_SPEC_MESSAGE))
    if errors:
        raise invalid("Pod", old["metadata"]["name"], errors)


def _default_container(container: JsonObject) -> None:
    image = str(container.get("image") or "")
    last_part = image.rsplit("/", 1)[-1]
    untagged = ":" not in last_part and "@" not in last_part
    if "imagePullPolicy" not in container:
        latest = untagged or last_part.endswith(":latest")
        container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    resources = container.setdefault("resources", {})
    limits = resources.get("limits") or {}
    requests = resources.setdefault("requests", {}) if limits else resources.get("requests")
    if limits and requests is not None:
        # Requests default to the limits for every resource that has only a limit.
        for resource_name, quantity in limits.items():
            requests.setdefault(resource_name, quantity)
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_qos_class(pod: JsonObject) -> str:
    """Return the pod's QoS class: Guaranteed, Burstable or BestEffort."""
    containers = list((pod.get("spec") or {}).get("containers") or [])
    containers += list((pod.get("spec") or {}).get("initContainers") or [])
    any_resources = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {k: v for k, v in (resources.get("requests") or {}).items() if v}
        limits = {k: v for k, v in (resources.get("limits") or {}).items() if v}
        if requests or limits:
            any_resources = True
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                guaranteed = False
    if not any_resources:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def default_pod(pod: JsonObject) -> None:
    """Apply the API server's and default admission plugins' defaults to a new pod."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    tolerations = spec.setdefault("tolerations", [])
    present = {t.get("key") for t in tolerations if isinstance(t, dict)}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if key not in present:
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)
    pod["status"] = {"phase": "Pending", "qosClass": pod_qos_class(pod)}


def check_object_shape(obj: Any, kind: str) -> JsonObject:
    """Return `obj` when it is a JSON object with a metadata map; raise 400 otherwise."""
    if not isinstance(obj, dict):
        raise ApiError(400, f"the body of the request is not a {kind} object", "BadRequest")
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata must be an object", "BadRequest")
    return obj
