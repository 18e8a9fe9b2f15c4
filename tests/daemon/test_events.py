"""Server-Sent Events: live changes, event ids, resuming with Last-Event-ID, resync."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .harness import start_daemon
from .test_api import wait_for_state


@dataclass
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


def read_events(lines: Iterator[str]) -> Iterator[Event]:
    """Parse SSE lines independently of the client package."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield Event(
                    fields.get("id"), fields.get("event", "message"), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def collect(
    http: httpx.Client,
    path: str,
    until: Callable[[list[Event]], bool],
    *,
    headers: dict[str, str] | None = None,
    action: Callable[[], None] | None = None,
) -> list[Event]:
    """Open the stream, run `action` once subscribed, and read until `until` is true or the stream ends."""
    events: list[Event] = []
    with http.stream("GET", path, headers=headers, timeout=httpx.Timeout(10.0)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        if action is not None:
            action()
        for event in read_events(lines):
            events.append(event)
            if until(events):
                break
    return events


def ready_seen(runspace_id: list[str]) -> Callable[[list[Event]], bool]:
    return lambda events: any(
        e.data.get("runspace_id") in runspace_id and e.data.get("state") == "ready" for e in events
    )


def test_global_stream_reports_state_and_phase(http: httpx.Client) -> None:
    created: list[str] = []

    def create() -> None:
        created.append(http.post("/v1/runspaces", json={"profile": "default"}).json()["id"])

    events = collect(http, "/v1/events", ready_seen(created), action=create)
    mine = [e for e in events if e.data.get("runspace_id") == created[0]]
    assert mine[0].event == "state"
    assert mine[0].data["state"] == "creating"
    assert mine[-1].data["state"] == "ready"
    assert mine[-1].data["runspace"]["endpoint"] is not None
    assert any(e.event == "phase" for e in mine)

    # Ids are <boot>-<sequence> with one boot and rising sequences.
    boots = {e.id.rpartition("-")[0] for e in events if e.id}
    sequences = [int(e.id.rpartition("-")[2]) for e in events if e.id]
    assert len(boots) == 1
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)


def test_resume_replays_after_last_event_id(http: httpx.Client) -> None:
    created: list[str] = []

    def create() -> None:
        created.append(http.post("/v1/runspaces", json={"profile": "default"}).json()["id"])

    first = collect(http, "/v1/events", ready_seen(created), action=create)
    assert len(first) >= 3
    resume_from = first[0].id
    assert resume_from is not None

    expected = [e.id for e in first[1:]]
    replayed = collect(
        http,
        "/v1/events",
        lambda events: len(events) >= len(expected),
        headers={"Last-Event-ID": resume_from},
    )
    assert [e.id for e in replayed[: len(expected)]] == expected

    by_query = collect(
        http, f"/v1/events?last_event_id={resume_from}", lambda events: len(events) >= 1
    )
    assert by_query[0].id == expected[0]


def test_unknown_event_id_gets_resync(http: httpx.Client) -> None:
    events = collect(
        http, "/v1/events", lambda e: len(e) >= 1, headers={"Last-Event-ID": "deadbeef-12"}
    )
    assert events[0].event == "resync"
    assert "restarted" in events[0].data["reason"]


def test_overflowed_buffer_gets_resync(tmp_path: Path) -> None:
    running = start_daemon(tmp_path, {"event_buffer": 3})
    try:
        with running.client() as http:
            created: list[str] = []

            def create() -> None:
                created.append(
                    http.post(
                        "/v1/runspaces", json={"profile": "default"}, params={"wait": 20}
                    ).json()["id"]
                )

            events = collect(http, "/v1/events", ready_seen(created), action=create)
            assert len(events) > 4
            resumed = collect(
                http,
                "/v1/events",
                lambda e: len(e) >= 1,
                headers={"Last-Event-ID": events[0].id or ""},
            )
            assert resumed[0].event == "resync"
            assert "no longer buffered" in resumed[0].data["reason"]
    finally:
        running.stop()


def test_runspace_stream_snapshot_until_deleted(http: httpx.Client) -> None:
    created = http.post("/v1/runspaces", json={"profile": "default"}, params={"wait": 20}).json()
    other = http.post("/v1/runspaces", json={"profile": "default"}).json()

    def delete() -> None:
        assert http.delete(f"/v1/runspaces/{created['id']}").status_code in (200, 202)

    # The stream closes by itself after the deleted state, so `until` never stops it.
    events = collect(http, f"/v1/runspaces/{created['id']}/events", lambda _: False, action=delete)
    assert events[0].event == "snapshot"
    assert events[0].data["state"] == "ready"
    assert {e.data["runspace_id"] for e in events} == {created["id"]}
    assert other["id"] not in {e.data["runspace_id"] for e in events}
    states = [e.data["state"] for e in events if e.event == "state"]
    assert states[-1] == "deleted"
    assert "terminating" in states


def test_runspace_stream_of_deleted_runspace_ends(http: httpx.Client) -> None:
    created = http.post("/v1/runspaces", json={"profile": "default"}, params={"wait": 20}).json()
    http.delete(f"/v1/runspaces/{created['id']}")
    assert wait_for_state(http, created["id"], ("deleted",))["state"] == "deleted"
    events = collect(http, f"/v1/runspaces/{created['id']}/events", lambda _: False)
    assert [e.event for e in events] == ["snapshot"]
    assert events[0].data["state"] == "deleted"
