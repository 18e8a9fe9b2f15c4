"""Unit tests of selector parsing and PATCH application."""

from __future__ import annotations

from typing import Any

import pytest

from runspaced.sim.patch import apply_patch
from runspaced.sim.selectors import FieldSelector, LabelSelector
from runspaced.sim.status import ApiError


def _labelled(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a=1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a notin (1,2)", {"a": "3"}, True),
        ("a notin (1,2)", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("a,b=2", {"a": "1", "b": "2"}, True),
        ("a,b=2", {"b": "2"}, False),
        ("example.com/a=1", {"example.com/a": "1"}, True),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
    ],
)
def test_label_selector_matches(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector(selector).matches(_labelled(**labels)) is expected


@pytest.mark.parametrize("selector", ["a=b c", "a in ()", "=x", "a,,b"])
def test_label_selector_rejects_malformed(selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        LabelSelector(selector)
    assert caught.value.code == 400


def test_field_selector_escaped_comma() -> None:
    selector = FieldSelector("events", r"reason=a\,b")
    assert selector.matches({"reason": "a,b"})
    assert not selector.matches({"reason": "a"})


def test_field_selector_source_component() -> None:
    selector = FieldSelector("events", "source=kubelet")
    assert selector.matches({"source": {"component": "kubelet"}})


def test_strategic_patch_deletes_by_merge_key() -> None:
    current = {"status": {"conditions": [{"type": "A"}, {"type": "B"}]}}
    patched = apply_patch(
        "application/strategic-merge-patch+json",
        current,
        {"status": {"conditions": [{"type": "A", "$patch": "delete"}]}},
    )
    assert patched["status"]["conditions"] == [{"type": "B"}]
    assert current["status"]["conditions"] == [{"type": "A"}, {"type": "B"}]


def test_strategic_patch_unions_finalizers() -> None:
    patched = apply_patch(
        "application/strategic-merge-patch+json",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": ["b"]}},
    )
    assert patched["metadata"]["finalizers"] == ["a", "b"]


def test_merge_patch_replaces_lists() -> None:
    patched = apply_patch(
        "application/merge-patch+json",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": ["b"]}},
    )
    assert patched["metadata"]["finalizers"] == ["b"]


def test_json_patch_test_failure_is_invalid() -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch(
            "application/json-patch+json",
            {"metadata": {"name": "x"}},
            [{"op": "test", "path": "/metadata/name", "value": "y"}],
        )
    assert caught.value.code == 422


def test_apply_patch_is_unsupported() -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch("application/apply-patch+yaml", {}, {})
    assert caught.value.code == 415
