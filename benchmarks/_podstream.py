"""A recorded stream of realistic pod watch events for the hot-path benchmark.

Each event object starts from a pod in tests/fixtures/pod-cases/, whose status blocks
are real kubelet output. It is renamed into one runspace and given the runspaced
labels and the API server's defaults. Its managedFields entries are derived from its
own fields, as an API server writes them for the creating client and for the
kubelet's status updates. A line is one watch event, ``{"type": ..., "object": ...}``,
as JSON bytes. Events average about 5 KB.
"""

from __future__ import annotations

import copy
import heapq
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "FIXTURES",
    "LIFECYCLES",
    "PodStream",
    "fields_v1",
    "load_fixture_pods",
]

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pod-cases"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ID_LABEL = "runspaced.dev/id"

# Each lifecycle is the ordered fixture states one pod passes through; "pending" is
# the freshly created, unscheduled pod. Weights are the share of pods taking it.
LIFECYCLES: Sequence[tuple[float, tuple[str, ...]]] = (
    (0.70, ("pending", "06", "03", "01")),
    (0.12, ("pending", "06", "11", "09")),
    (0.08, ("pending", "06", "03", "24")),
    (0.04, ("pending", "06", "03", "25")),
    (0.03, ("pending", "06", "18")),
    (0.03, ("pending", "06", "21")),
)


def load_fixture_pods(directory: Path = FIXTURES) -> dict[str, dict[str, Any]]:
    """Return the fixture pods keyed by their two-digit case number (``"01"``)."""
    pods: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        pods[path.name[:2]] = case["pod"]
    return pods


def fields_v1(value: Any) -> Any:
    """Return the fieldsV1 set of `value`, the structure an API server stores in managedFields.

    Maps become ``f:<key>`` entries, lists of named or typed objects become
    ``k:{...}`` entries with a ``.`` marker, and other lists and scalars are leaves.
    """
    if isinstance(value, Mapping):
        return {f"f:{key}": fields_v1(item) for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        keyed: dict[str, Any] = {}
        for item in value:
            for key_name in ("name", "type", "containerPort", "ip"):
                if key_name in item:
                    key = json.dumps({key_name: item[key_name]}, separators=(",", ":"))
                    entry: dict[str, Any] = {".": {}}
                    entry.update(fields_v1({k: v for k, v in item.items() if k != key_name}))
                    keyed[f"k:{key}"] = entry
                    break
        return keyed
    return {}


def _api_defaults(spec: dict[str, Any]) -> None:
    """Add what API defaulting, admission plugins and the runspaced manifest add to a pod.

    The fixtures show only the fields their reporters posted; these give each event the
    size of a real pod object.
    """
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("enableServiceLinks", False)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault("securityContext", {"runAsNonRoot": True, "runAsUser": 65532})
    spec.setdefault(
        "tolerations",
        [
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
        ],
    )

    # The service account token volume, which the ServiceAccount admission plugin adds
    # to every pod that does not set automountServiceAccountToken: false.
    volumes = spec.setdefault("volumes", [])
    volumes.append(
        {
            "name": "kube-api-access-x7k2q",
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {
                        "serviceAccountToken": {
                            "expirationSeconds": 3607,
                            "path": "token",
                        }
                    },
                    {
                        "configMap": {
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            "name": "kube-root-ca.crt",
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    for container in spec.get("containers") or ():
        container.setdefault("volumeMounts", []).append(
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": "kube-api-access-x7k2q",
                "readOnly": True,
            }
        )
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("imagePullPolicy", "IfNotPresent")
        container.setdefault(
            "securityContext",
            {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "runAsNonRoot": True,
            },
        )


class PodStream:
    """Generator of interleaved pod lifecycles as watch event lines.

    `seed` makes the stream reproducible. Pod names are ``rs-bench-<n>`` in namespace
    `namespace`, each carrying the runspaced labels, so an engine adopts them.
    """

    def __init__(self, *, seed: int = 7, namespace: str = "bench") -> None:
        self.random = random.Random(seed)
        self.namespace = namespace
        self.fixtures = load_fixture_pods()
        self.resource_version = 1000

    def _pod(self, name: str, uid: str, case: str, created: str) -> dict[str, Any]:
        """Return the pod `name` in the state of fixture `case` (or "pending")."""
        template = self.fixtures["06" if case == "pending" else case]
        pod = copy.deepcopy(template)
        pod.pop("apiVersion", None)
        pod.pop("kind", None)
        self.resource_version += 1
        metadata = pod.setdefault("metadata", {})
        metadata.pop("deletionTimestamp", None)
        metadata.pop("deletionGracePeriodSeconds", None)
        metadata.update(
            name=name,
            namespace=self.namespace,
            uid=uid,
            resourceVersion=str(self.resource_version),
            creationTimestamp=created,
            labels={MANAGED_BY_LABEL: "runspaced", ID_LABEL: name},
            annotations={"runspaced.dev/create-token": uid[:16]},
        )
        spec = pod.setdefault("spec", {})
        _api_defaults(spec)
        if case == "pending":
            spec.pop("nodeName", None)
            pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

        managed = [
            {
                "manager": "runspaced",
                "operation": "Update",
                "apiVersion": "v1",
                "time": created,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(
                    {
                        "metadata": {
                            "labels": metadata["labels"],
                            "annotations": metadata["annotations"],
                        },
                        "spec": spec,
                    }
                ),
            }
        ]
        status = pod.get("status") or {}
        if status.get("conditions") or status.get("containerStatuses"):
            managed.append(
                {
                    "manager": "kubelet",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": created,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields_v1({"status": status}),
                    "subresource": "status",
                }
            )
        metadata["managedFields"] = managed
        return {"apiVersion": "v1", "kind": "Pod", **pod}

    def _cases(self) -> tuple[str, ...]:
        """Draw one lifecycle by its weight."""
        roll = self.random.random()
        for weight, cases in LIFECYCLES:
            if roll < weight:
                return cases
            roll -= weight
        return LIFECYCLES[-1][1]

    def _deleting(self, pod: dict[str, Any]) -> dict[str, Any]:
        """Return `pod` marked for graceful deletion, with a fresh resourceVersion."""
        self.resource_version += 1
        metadata = pod["metadata"]
        metadata["deletionTimestamp"] = "2024-05-01T12:05:00Z"
        metadata["deletionGracePeriodSeconds"] = 30
        metadata["resourceVersion"] = str(self.resource_version)
        return pod

    def lines(self, pods: int, *, deletions: bool = True) -> list[bytes]:
        """Return the watch lines of `pods` interleaved lifecycles, each pod's in order."""
        return list(self.iter_lines(pods, deletions=deletions))

    def iter_lines(self, pods: int, *, deletions: bool = True) -> Iterator[bytes]:
        """Yield watch lines of `pods` lifecycles, interleaved by simulated time.

        Each pod goes from ADDED through the fixture states of its lifecycle to its
        outcome; with `deletions`, a MODIFIED carrying deletionTimestamp and a
        DELETED follow. Pod objects are built only when their line is yielded.
        """
        created = "2024-05-01T12:00:00Z"
        heap: list[tuple[float, int, int, tuple[str, ...], str]] = []
        for index in range(pods):
            cases = self._cases()
            if deletions:
                cases = (*cases, "deleting", "deleted")
            uid = f"{self.random.getrandbits(128):032x}"
            start = self.random.uniform(0.0, pods / 50.0)
            heap.append((start, index, 0, cases, uid))
        heapq.heapify(heap)

        while heap:
            at, index, step, cases, uid = heapq.heappop(heap)
            name = f"rs-bench-{index:06d}"
            case = cases[step]
            if case in ("deleting", "deleted"):
                # The outcome state is the last one before "deleting" and "deleted".
                pod = self._deleting(self._pod(name, uid, cases[-3], created))
                event_type = "DELETED" if case == "deleted" else "MODIFIED"
            else:
                pod = self._pod(name, uid, case, created)
                event_type = "ADDED" if step == 0 else "MODIFIED"
            yield orjson.dumps({"type": event_type, "object": pod}) + b"\n"
            if step + 1 < len(cases):
                gap = self.random.lognormvariate(0.0, 0.8)
                heapq.heappush(heap, (at + gap, index, step + 1, cases, uid))
