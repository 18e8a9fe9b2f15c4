"""Slim records of the pod fields the engine reads.

The watch decodes each event once and keeps only a `PodRecord`: the classification
plus a handful of identifiers. Full pod objects, managedFields and kubernetes-asyncio
models are never kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import msgspec
import orjson

from .._types import Verdict
from .classify import ReadyWhen, classify_pod

__all__ = ["EventRecord", "PodRecord", "decode_pod_event", "event_record", "pod_record"]


@dataclass(frozen=True, slots=True)
class PodRecord:
    """Slim copy of one pod event: the verdict and the identifiers the engine reads.

    `image` and `port` are those of the first container, and `created` is the pod's
    creationTimestamp. They matter only when the engine adopts a pod it did not
    create in this process.
    """

    name: str
    namespace: str
    uid: str | None
    resource_version: str | None
    labels: Mapping[str, str]
    node: str | None
    pod_ip: str | None
    image: str | None
    port: int | None
    created: str | None
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Slim copy of one core/v1 Event about a pod."""

    pod_name: str
    namespace: str
    reason: str | None
    message: str | None
    type: str | None
    timestamp: str
    resource_version: str | None

    @property
    def text(self) -> str:
        """The event as one line, e.g. ``Pulling: Pulling image "python:3.12"``."""
        if self.reason and self.message:
            return f"{self.reason}: {self.message}"
        return self.message or self.reason or ""


def pod_record(pod: Mapping[str, Any], *, ready_when: ReadyWhen = "ready") -> PodRecord:
    """Classify a decoded pod object and keep only what the engine needs."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    image: str | None = None
    port: int | None = None
    containers = spec.get("containers")
    if containers and type(containers) is list and type(containers[0]) is dict:
        image = containers[0].get("image")
        ports = containers[0].get("ports")
        if ports and type(ports) is list and type(ports[0]) is dict:
            container_port = ports[0].get("containerPort")
            port = container_port if type(container_port) is int else None
    labels = metadata.get("labels")
    # Decoded JSON belongs to this event alone, so its labels dict is kept, not copied.
    if type(labels) is not dict:
        labels = dict(labels) if isinstance(labels, Mapping) else {}
    return PodRecord(
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        uid=metadata.get("uid"),
        resource_version=metadata.get("resourceVersion"),
        labels=labels,
        node=spec.get("nodeName"),
        pod_ip=status.get("podIP") or None,
        image=image,
        port=port,
        created=metadata.get("creationTimestamp"),
        verdict=classify_pod(pod, ready_when=ready_when),
    )


class _Port(TypedDict, total=False):
    containerPort: Any


class _Container(TypedDict, total=False):
    image: Any
    ports: list[_Port]


class _PodSpec(TypedDict, total=False):
    nodeName: Any
    containers: list[_Container]


class _PodMetadata(TypedDict, total=False):
    name: Any
    namespace: Any
    uid: Any
    resourceVersion: Any
    labels: Any
    creationTimestamp: Any
    deletionTimestamp: Any


class _PodOrStatus(TypedDict, total=False):
    # A pod in ADDED, MODIFIED, DELETED and BOOKMARK events, a Status in ERROR events.
    metadata: _PodMetadata
    spec: _PodSpec
    status: Any
    code: Any
    reason: Any
    message: Any


class _WatchEvent(TypedDict, total=False):
    type: Any
    object: _PodOrStatus


_pod_event_decoder = msgspec.json.Decoder(_WatchEvent)


def decode_pod_event(line: bytes) -> Any:
    """Decode one pod watch line into plain dicts that keep only what the engine reads.

    The result has the shape of the JSON with every other key left out: the metadata
    fields of `_PodMetadata`, ``spec.nodeName``, each container's image and ports, the
    whole ``status``, and the code, reason and message of an ERROR event's Status.
    msgspec skips managedFields and the rest of the spec without building Python
    objects for them. On the 5 KB pod events of ``benchmarks/hotpath.py`` this takes
    about 2.6 times less CPU than orjson decoding the whole line (7.7 against 20.2
    microseconds in the run recorded in docs/benchmarks.md).

    A line whose kept fields have unexpected shapes (``metadata`` not an object, for
    example) is decoded whole with orjson instead, so the watch judges it as before.
    Raises `orjson.JSONDecodeError` for a line that is not JSON.
    """
    try:
        return _pod_event_decoder.decode(line)
    except msgspec.DecodeError:
        # Also the base of msgspec's ValidationError. orjson either decodes the line
        # whole or raises the error type the watch expects for a line that is not JSON.
        return orjson.loads(line)


def event_record(event: Mapping[str, Any]) -> EventRecord:
    """Keep the involved pod, reason, message and time of a decoded core/v1 Event."""
    metadata = event.get("metadata") or {}
    involved = event.get("involvedObject") or {}
    timestamp = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or metadata.get("creationTimestamp")
        or ""
    )
    return EventRecord(
        pod_name=str(involved.get("name", "")),
        namespace=str(involved.get("namespace") or metadata.get("namespace") or ""),
        reason=event.get("reason"),
        message=event.get("message"),
        type=event.get("type"),
        timestamp=str(timestamp),
        resource_version=metadata.get("resourceVersion"),
    )
