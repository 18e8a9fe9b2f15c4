"""decode_pod_event and pod_record: the pruned decode must not change any record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from runspaced._state.records import decode_pod_event, pod_record

CASES_DIR = Path(__file__).parent / "fixtures" / "pod-cases"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))

MANAGED_FIELDS = [
    {
        "manager": "kubelet",
        "operation": "Update",
        "apiVersion": "v1",
        "subresource": "status",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {"f:conditions": {".": {}}, "f:phase": {}}},
    }
]


def _event_line(event_type: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj})


def _case_pod(path: Path) -> dict[str, Any]:
    pod: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["pod"]
    pod.setdefault("metadata", {})["managedFields"] = MANAGED_FIELDS
    return pod


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
@pytest.mark.parametrize("ready_when", ["ready", "ip"])
def test_pruned_record_matches_whole(path: Path, ready_when: Any) -> None:
    line = _event_line("MODIFIED", _case_pod(path))

    pruned = decode_pod_event(line)
    whole = orjson.loads(line)

    assert pruned["type"] == "MODIFIED"
    assert pod_record(pruned["object"], ready_when=ready_when) == pod_record(
        whole["object"], ready_when=ready_when
    )


def test_pruned_decode_drops_unread_fields() -> None:
    pod = _case_pod(CASES_DIR / "09-imagepullbackoff.json")
    pod["spec"]["nodeName"] = "node-1"
    pod["metadata"]["labels"] = {"runspaced.dev/id": "rs-1"}

    obj = decode_pod_event(_event_line("ADDED", pod))["object"]

    assert "managedFields" not in obj["metadata"]
    assert "restartPolicy" not in obj["spec"]
    assert obj["spec"]["nodeName"] == "node-1"
    assert obj["spec"]["containers"][0]["image"] == pod["spec"]["containers"][0]["image"]
    assert obj["status"] == pod["status"]
    assert obj["metadata"]["labels"] == {"runspaced.dev/id": "rs-1"}


def test_pruned_decode_keeps_error_status() -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version: 10 (200)",
        "reason": "Expired",
        "code": 410,
    }

    event = decode_pod_event(_event_line("ERROR", status))

    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    assert event["object"]["message"] == status["message"]


def test_pruned_decode_keeps_bookmark_version() -> None:
    bookmark = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "resourceVersion": "4711",
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }

    event = decode_pod_event(_event_line("BOOKMARK", bookmark))

    assert event == {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "4711"}}}


def test_unexpected_shape_decodes_whole() -> None:
    line = _event_line("MODIFIED", {"metadata": "not an object", "status": {}})

    event = decode_pod_event(line)

    assert event == orjson.loads(line)


def test_object_not_a_mapping_decodes_whole() -> None:
    line = b'{"type": "MODIFIED", "object": [1, 2]}'

    assert decode_pod_event(line) == {"type": "MODIFIED", "object": [1, 2]}


def test_line_not_json_raises_json_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        decode_pod_event(b'{"type": "MODIFIED", "object": ')
