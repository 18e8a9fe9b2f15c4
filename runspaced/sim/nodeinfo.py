"""Simulated nodes: their spec, their Node object, what is scheduled on them, their pod IPs.

Each node gets a loopback /16 for its pods (127.X.0.0/16 with X drawn at random per
simulation, never 127.0.0.0/16), so pod IPs are reachable on the local host and two
simulations in parallel rarely share addresses. Pod IPs never end in .0 or .255.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .quantity import cpu_millis, memory_bytes
from .store import now_rfc3339

__all__ = ["NodeSpec", "NodeState", "PodNetwork", "Requests", "build_node_states"]

KUBELET_VERSION = "v1.33.1"


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """Shape of one simulated node. Quantities use the Kubernetes forms ("4", "16Gi").

    ``preloaded_images`` are present on the node from the start, as images baked into a
    node image are; they are matched on the normalized reference
    ("docker.io/library/busybox:1.36").
    """

    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    labels: Mapping[str, str] = field(default_factory=dict)
    preloaded_images: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Requests:
    """Resource requests of a pod as the scheduler sums them: millicores and bytes."""

    cpu_millis: int = 0
    memory_bytes: int = 0


class PodNetwork:
    """Allocator of pod IPs inside one node's loopback /16."""

    def __init__(self, network: ipaddress.IPv4Network, rng: random.Random) -> None:
        if not network.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
            raise ValueError(f"pod network {network} is not inside 127.0.0.0/8")
        self.network = network
        self._size = network.num_addresses
        self._next = rng.randrange(self._size)
        self._in_use: set[str] = set()

    def allocate(self) -> str:
        """Return a free address. Raises RuntimeError when the network is exhausted."""
        base = int(self.network.network_address)
        for _ in range(self._size):
            offset = self._next
            self._next = (self._next + 1) % self._size
            last_octet = offset & 0xFF
            if last_octet in (0, 255):
                continue
            address = str(ipaddress.IPv4Address(base + offset))
            if address == "127.0.0.1" or address in self._in_use:
                continue
            self._in_use.add(address)
            return address
        raise RuntimeError(f"pod network {self.network} has no free address")

    def release(self, address: str) -> None:
        """Return an address to the pool; unknown addresses are ignored."""
        self._in_use.discard(address)


class NodeState:
    """One simulated node: allocatable resources, what is assigned to it, its images."""

    def __init__(self, spec: NodeSpec, index: int, network: PodNetwork) -> None:
        self.spec = spec
        self.name = spec.name
        self.index = index
        self.host_ip = f"127.0.{index}.1"
        self.network = network
        self.labels: dict[str, str] = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": spec.name,
            "kubernetes.io/os": "linux",
            **spec.labels,
        }
        self.allocatable = Requests(cpu_millis(spec.cpu), memory_bytes(spec.memory))
        self.max_pods = spec.pods
        self.requested_cpu = 0
        self.requested_memory = 0
        self.pod_count = 0
        self.images: set[str] = set(spec.preloaded_images)

    def __repr__(self) -> str:
        return (
            f"NodeState({self.name!r}, pods={self.pod_count}/{self.max_pods}, "
            f"cpu={self.requested_cpu}m/{self.allocatable.cpu_millis}m)"
        )

    def assign(self, requests: Requests) -> None:
        """Count a pod's requests against this node."""
        self.requested_cpu += requests.cpu_millis
        self.requested_memory += requests.memory_bytes
        self.pod_count += 1

    def release(self, requests: Requests) -> None:
        """Give back what `assign` counted."""
        self.requested_cpu -= requests.cpu_millis
        self.requested_memory -= requests.memory_bytes
        self.pod_count -= 1

    def node_object(self) -> dict[str, Any]:
        """Return the core/v1 Node as a kubelet registers it (metadata, spec, status)."""
        allocatable = {
            "cpu": self.spec.cpu,
            "memory": self.spec.memory,
            "pods": str(self.max_pods),
            "ephemeral-storage": "95551679124",
            "hugepages-2Mi": "0",
        }
        capacity = dict(allocatable, **{"ephemeral-storage": "102626232Ki"})
        return {
            "metadata": {
                "name": self.name,
                "labels": dict(self.labels),
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {
                "podCIDR": str(self.network.network),
                "podCIDRs": [str(self.network.network)],
            },
            "status": {
                "capacity": capacity,
                "allocatable": allocatable,
                "conditions": _node_conditions(),
                "addresses": [
                    {"type": "InternalIP", "address": self.host_ip},
                    {"type": "Hostname", "address": self.name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": f"{self.index:032x}",
                    "systemUUID": f"00000000-0000-0000-0000-{self.index:012x}",
                    "bootID": f"00000000-0000-4000-8000-{self.index:012x}",
                    "kernelVersion": "6.1.0-sim",
                    "osImage": "runspaced simulated node",
                    "containerRuntimeVersion": "containerd://1.7.27",
                    "kubeletVersion": KUBELET_VERSION,
                    "kubeProxyVersion": KUBELET_VERSION,
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
                "images": [{"names": [image], "sizeBytes": 0} for image in sorted(self.images)],
            },
        }


def build_node_states(specs: Iterable[NodeSpec], rng: random.Random) -> list[NodeState]:
    """Create node states with distinct random loopback /16 pod networks."""
    specs = list(specs)
    second_octets = rng.sample(range(16, 255), len(specs))
    states = []
    for index, (spec, octet) in enumerate(zip(specs, second_octets, strict=True), 1):
        network = PodNetwork(ipaddress.IPv4Network(f"127.{octet}.0.0/16"), rng)
        states.append(NodeState(spec, index, network))
    return states


def _node_conditions() -> list[dict[str, Any]]:
    now = now_rfc3339()
    rows = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return [
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        for kind, status, reason, message in rows
    ]
