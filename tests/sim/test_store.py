"""Unit tests of the simulated cluster's object store."""

from __future__ import annotations

from typing import Any

import pytest

from runspaced.sim.store import AlreadyExists, Expired, ObjectStore


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": "a"}}, "spec": {}}


def test_create_sets_metadata() -> None:
    store = ObjectStore()
    before = store.resource_version
    pod = store.create("pods", "default", _pod("p1"))
    assert pod["metadata"]["resourceVersion"] == str(before + 1)
    assert pod["metadata"]["namespace"] == "default"
    assert pod["metadata"]["uid"]
    assert pod["metadata"]["creationTimestamp"].endswith("Z")
    assert store.get("pods", "default", "p1") is pod


def test_create_duplicate_raises() -> None:
    store = ObjectStore()
    store.create("pods", "default", _pod("p1"))
    with pytest.raises(AlreadyExists):
        store.create("pods", "default", _pod("p1"))


def test_update_copies_and_bumps_rv() -> None:
    store = ObjectStore()
    original = store.create("pods", "default", _pod("p1"))

    def relabel(obj: dict[str, Any]) -> None:
        obj["metadata"]["labels"]["app"] = "b"

    updated = store.update("pods", "default", "p1", relabel)
    assert updated is not None
    assert original["metadata"]["labels"]["app"] == "a"
    assert updated["metadata"]["labels"]["app"] == "b"
    old_rv = int(original["metadata"]["resourceVersion"])
    assert int(updated["metadata"]["resourceVersion"]) > old_rv
    assert store.update("pods", "default", "missing", relabel) is None


def test_remove_records_fresh_rv() -> None:
    store = ObjectStore()
    store.create("pods", "default", _pod("p1"))
    final = store.remove("pods", "default", "p1")
    assert final is not None
    assert final["metadata"]["resourceVersion"] == str(store.resource_version)
    assert store.get("pods", "default", "p1") is None
    assert store.remove("pods", "default", "p1") is None


def test_listener_sees_changes_in_order() -> None:
    store = ObjectStore()
    seen: list[tuple[str, str, str]] = []
    store.add_listener(lambda t, k, o: seen.append((t, k, o["metadata"]["name"])))
    store.create("pods", "default", _pod("p1"))
    store.update("pods", "default", "p1", lambda o: None)
    store.remove("pods", "default", "p1")
    assert seen == [("ADDED", "pods", "p1"), ("MODIFIED", "pods", "p1"), ("DELETED", "pods", "p1")]


def test_list_sorted_by_namespace_and_name() -> None:
    store = ObjectStore()
    store.create("pods", "b", _pod("x"))
    store.create("pods", "a", _pod("z"))
    store.create("pods", "a", _pod("y"))
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in store.list("pods")]
    assert names == [("a", "y"), ("a", "z"), ("b", "x")]
    assert [p["metadata"]["name"] for p in store.list("pods", "a")] == ["y", "z"]


def test_snapshot_undoes_newer_changes() -> None:
    store = ObjectStore()
    store.create("pods", "default", _pod("p1"))
    store.create("pods", "default", _pod("p2"))
    rv = store.resource_version
    store.create("pods", "default", _pod("p3"))
    store.remove("pods", "default", "p1")
    store.update("pods", "default", "p2", lambda o: o["metadata"]["labels"].update(app="c"))

    old = store.snapshot("pods", "default", rv)
    assert [p["metadata"]["name"] for p in old] == ["p1", "p2"]
    assert old[1]["metadata"]["labels"]["app"] == "a"


def test_history_overflow_expires_old_rv() -> None:
    store = ObjectStore(history_size=3)
    start = store.resource_version
    for i in range(5):
        store.create("pods", "default", _pod(f"p{i}"))
    with pytest.raises(Expired) as caught:
        list(store.history_since(start))
    assert caught.value.requested == start
    assert caught.value.oldest == store.oldest_resource_version
    assert [e.resource_version for e in store.history_since(store.oldest_resource_version)] == [
        start + 3,
        start + 4,
        start + 5,
    ]


def test_compact_expires_everything_older() -> None:
    store = ObjectStore()
    store.create("pods", "default", _pod("p1"))
    rv = store.resource_version
    store.create("pods", "default", _pod("p2"))
    store.compact()
    with pytest.raises(Expired):
        store.snapshot("pods", None, rv)
    assert list(store.history_since(store.resource_version)) == []


def test_subscription_replays_then_follows() -> None:
    store = ObjectStore()
    store.create("pods", "default", _pod("p1"))
    rv = store.resource_version
    store.create("pods", "default", _pod("p2"))
    store.create("pods", "other", _pod("p3"))
    subscription = store.subscribe("pods", "default", rv)
    store.create("events", "default", _pod("e1"))
    store.create("pods", "default", _pod("p4"))
    names = [e.obj["metadata"]["name"] for e in subscription.drain()]
    assert names == ["p2", "p4"]
    assert store.close_subscriptions("test") == 1
    assert subscription.closed
