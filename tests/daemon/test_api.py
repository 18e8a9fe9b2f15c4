"""The /v1/runspaces routes over real HTTP, against the simulated cluster."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .harness import RunningDaemon

PROBLEM = "application/problem+json"


def wait_for_state(
    http: httpx.Client, runspace_id: str, states: tuple[str, ...], seconds: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        document: dict[str, Any] = http.get(f"/v1/runspaces/{runspace_id}").json()
        if document["state"] in states or time.monotonic() > deadline:
            return document
        time.sleep(0.05)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:runspaced:problem:{slug}"
    assert body["title"]
    assert body["detail"]
    return body


def test_create_returns_202_with_location(http: httpx.Client) -> None:
    response = http.post(
        "/v1/runspaces", json={"profile": "default", "labels": {"example.com/team": "a"}}
    )
    assert response.status_code == 202
    document = response.json()
    assert document["state"] == "creating"
    assert document["profile"] == "default"
    assert response.headers["location"] == f"/v1/runspaces/{document['id']}"

    fetched = http.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json()["id"] == document["id"]


def test_create_wait_ready_returns_201(http: httpx.Client) -> None:
    response = http.post("/v1/runspaces", json={"profile": "default"}, params={"wait": 20})
    assert response.status_code == 201
    document = response.json()
    assert document["state"] == "ready"
    assert document["endpoint"]["url"].startswith("http://127.")
    assert document["ready_at"] is not None
    assert response.headers["location"].endswith(document["id"])


def test_create_wait_error_returns_problem(http: httpx.Client) -> None:
    response = http.post(
        "/v1/runspaces",
        json={"profile": "default", "image": "registry.example/does-not-exist:1"},
        params={"wait": 20},
    )
    body = assert_problem(response, 409, "runspace-failed")
    assert body["runspace_id"] == body["runspace"]["id"]
    assert body["state"] == "error"
    assert body["reason"] in ("ErrImagePull", "ImagePullBackOff")


def test_create_wait_timeout_returns_problem(http: httpx.Client) -> None:
    response = http.post("/v1/runspaces", json={"profile": "quick-timeout"}, params={"wait": 20})
    body = assert_problem(response, 409, "runspace-timeout")
    assert body["runspace"]["state"] == "timeout"


def test_create_wait_still_creating_returns_202(http: httpx.Client) -> None:
    response = http.post(
        "/v1/runspaces", json={"profile": "default", "image": "sim/slow:2"}, params={"wait": 0.3}
    )
    assert response.status_code == 202
    assert response.json()["state"] == "creating"


def test_wait_route_outcomes(http: httpx.Client) -> None:
    slow = http.post("/v1/runspaces", json={"profile": "default", "image": "sim/slow:3"}).json()
    pending = http.get(f"/v1/runspaces/{slow['id']}/wait", params={"timeout": 0.2})
    assert pending.status_code == 202
    assert pending.json()["state"] == "creating"

    fast = http.post("/v1/runspaces", json={"profile": "default"}).json()
    ready = http.get(f"/v1/runspaces/{fast['id']}/wait", params={"timeout": 20})
    assert ready.status_code == 200
    assert ready.json()["state"] == "ready"

    http.delete(f"/v1/runspaces/{slow['id']}")
    gone = http.get(f"/v1/runspaces/{slow['id']}/wait", params={"timeout": 5})
    assert_problem(gone, 409, "runspace-deleted")

    unknown = http.get("/v1/runspaces/rs-unknown/wait", params={"timeout": 1})
    assert_problem(unknown, 404, "runspace-not-found")


def test_list_filters_by_state_and_label(http: httpx.Client) -> None:
    ready = http.post(
        "/v1/runspaces",
        json={"profile": "default", "labels": {"example.com/role": "a"}},
        params={"wait": 20},
    ).json()
    slow = http.post(
        "/v1/runspaces",
        json={"profile": "default", "image": "sim/slow:4", "labels": {"example.com/role": "b"}},
    ).json()

    everything = http.get("/v1/runspaces").json()
    assert {ready["id"], slow["id"]} <= {item["id"] for item in everything["items"]}
    assert everything["count"] == len(everything["items"])

    by_state = http.get("/v1/runspaces", params={"state": "creating"}).json()
    assert [item["id"] for item in by_state["items"]] == [slow["id"]]

    both_states = http.get(
        "/v1/runspaces", params=[("state", "creating"), ("state", "ready")]
    ).json()
    assert both_states["count"] == 2

    by_label = http.get("/v1/runspaces", params={"label": "example.com/role=a"}).json()
    assert [item["id"] for item in by_label["items"]] == [ready["id"]]


def test_delete_is_idempotent(http: httpx.Client) -> None:
    created = http.post("/v1/runspaces", json={"profile": "default"}, params={"wait": 20}).json()
    first = http.delete(f"/v1/runspaces/{created['id']}")
    assert first.status_code in (200, 202)
    assert first.json()["state"] in ("terminating", "deleted")
    second = http.delete(f"/v1/runspaces/{created['id']}")
    assert second.status_code in (200, 202)

    final = wait_for_state(http, created["id"], ("deleted",))
    assert final["state"] == "deleted"
    after = http.delete(f"/v1/runspaces/{created['id']}")
    assert after.status_code == 200
    assert after.json()["state"] == "deleted"

    assert_problem(http.delete("/v1/runspaces/rs-never-existed"), 404, "runspace-not-found")


def test_ttl_deletes_runspace(http: httpx.Client) -> None:
    created = http.post(
        "/v1/runspaces", json={"profile": "default", "ttl_seconds": 0.5}, params={"wait": 20}
    )
    document = created.json()
    assert document["expires_at"] is not None
    final = wait_for_state(http, document["id"], ("terminating", "deleted"))
    assert final["state"] in ("terminating", "deleted")
    assert "runspaced_ttl_expirations_total 1" in http.get("/metrics").text


def test_engine_state_survives_as_documented_fields(http: httpx.Client) -> None:
    created = http.post(
        "/v1/runspaces", json={"profile": "default", "env": {"APP_MODE": "x"}}, params={"wait": 20}
    ).json()
    for key in (
        "id",
        "state",
        "phase",
        "image",
        "pod_name",
        "namespace",
        "node",
        "pod_ip",
        "labels",
        "phase_seconds",
    ):
        assert key in created
    assert "APP_MODE" not in str(created)


def test_readiness_and_health_public(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url) as anonymous:
        assert anonymous.get("/healthz").json()["status"] == "ok"
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["synced"] is True
        assert anonymous.get("/openapi.json").status_code == 200


def test_metrics_report_states_routes_and_watch(http: httpx.Client) -> None:
    http.post("/v1/runspaces", json={"profile": "default"}, params={"wait": 20})
    http.get("/v1/runspaces/rs-missing")
    text = http.get("/metrics").text
    assert 'runspaced_runspaces{state="ready"} 1' in text
    assert (
        'runspaced_http_requests_total{method="POST",route="/v1/runspaces",status="201"} 1' in text
    )
    assert (
        'runspaced_http_requests_total{method="GET",route="/v1/runspaces/{runspace_id}",status="404"} 1'
        in text
    )
    assert "runspaced_watch_restarts_total 0" in text
    assert "runspaced_watch_relists_total" in text
    assert "runspaced_engine_waiters 0" in text
    assert "runspaced_daemon_waiting_requests 0" in text
