"""Every error status of the daemon, as problem+json, and no 500 for bad input."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runspaced._daemon import load_config

from .harness import RunningDaemon, start_daemon, write_config
from .test_api import assert_problem


def test_invalid_json_is_400(shared_http: httpx.Client) -> None:
    response = shared_http.post(
        "/v1/runspaces", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400, "invalid-request")
    assert body["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"profile":"default"}', "application/x-www-form-urlencoded"),
        (b'["default"]', "application/json"),
    ],
)
def test_non_object_body_is_400(
    shared_http: httpx.Client, content: bytes, content_type: str
) -> None:
    response = shared_http.post(
        "/v1/runspaces", content=content, headers={"content-type": content_type}
    )
    body = assert_problem(response, 400, "invalid-request")
    assert body["errors"][0]["field"] == "body"
    assert "must be a JSON object" in body["detail"]


def test_missing_body_is_400(shared_http: httpx.Client) -> None:
    body = assert_problem(shared_http.post("/v1/runspaces"), 400, "invalid-request")
    assert body["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "profile"),
        ({"profile": "default", "spec": {"containers": []}}, "spec"),
        ({"profile": "default", "port": "eighty"}, "port"),
        ({"profile": "default", "port": 0}, "port"),
        ({"profile": "default", "env": {"APP_X": 1}}, "env.APP_X"),
        ({"profile": "default", "ttl_seconds": -5}, "ttl_seconds"),
        ({"profile": "default", "resources": {"limits": {"cpu": "many"}}}, "resources.limits.cpu"),
        ({"profile": "default", "labels": {"example.com/x": "not valid!"}}, "labels.example.com/x"),
        ([1, 2], "body"),
    ],
)
def test_invalid_field_is_400_naming_it(
    shared_http: httpx.Client, payload: object, field: str
) -> None:
    body = assert_problem(shared_http.post("/v1/runspaces", json=payload), 400, "invalid-request")
    assert body["errors"][0]["field"] == field
    assert repr(field) in body["detail"]


def test_env_value_not_echoed(shared_http: httpx.Client) -> None:
    response = shared_http.post(
        "/v1/runspaces", json={"profile": "default", "env": {"APP_X": ["secret-value"]}}
    )
    assert_problem(response, 400, "invalid-request")
    assert "secret-value" not in response.text


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/runspaces", {"state": "sleeping"}, "state.0"),
        ("/v1/runspaces", {"label": "no-equals-sign"}, "label"),
        ("/v1/runspaces/NOT_AN_ID", {}, "runspace_id"),
        ("/v1/runspaces/rs-x/wait", {"timeout": "-1"}, "timeout"),
        ("/v1/runspaces/rs-x/wait", {"timeout": "9999"}, "timeout"),
    ],
)
def test_invalid_query_or_path_is_400(
    shared_http: httpx.Client, path: str, params: dict[str, str], field: str
) -> None:
    body = assert_problem(shared_http.get(path, params=params), 400, "invalid-request")
    assert body["errors"][0]["field"] == field


def test_missing_token_is_401(shared_daemon: RunningDaemon) -> None:
    with shared_daemon.client(headers={}) as anonymous:
        response = anonymous.get("/v1/runspaces")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization", ["Bearer wrong", "Basic dGVzdA==", "Bearer", "bearer test-token-012345678"]
)
def test_wrong_token_is_401(shared_daemon: RunningDaemon, authorization: str) -> None:
    with shared_daemon.client(headers={"Authorization": authorization}) as client:
        assert_problem(
            client.post("/v1/runspaces", json={"profile": "default"}), 401, "unauthorized"
        )
        assert_problem(client.get("/metrics"), 401, "unauthorized")
        assert_problem(client.get("/v1/no-such-route"), 401, "unauthorized")


def test_token_scheme_case_insensitive(shared_daemon: RunningDaemon) -> None:
    with shared_daemon.client(
        headers={"Authorization": f"bearer {shared_daemon.config.token}"}
    ) as client:
        assert client.get("/v1/runspaces").status_code == 200


def test_unknown_runspace_is_404(shared_http: httpx.Client) -> None:
    body = assert_problem(shared_http.get("/v1/runspaces/rs-nothing"), 404, "runspace-not-found")
    assert body["runspace_id"] == "rs-nothing"
    assert_problem(shared_http.get("/v1/runspaces/rs-nothing/events"), 404, "runspace-not-found")


def test_unknown_route_and_method(shared_http: httpx.Client) -> None:
    assert_problem(shared_http.get("/v2/everything"), 404, "not-found")
    assert_problem(shared_http.put("/v1/runspaces"), 405, "method-not-allowed")


def test_oversized_body_is_413(shared_http: httpx.Client) -> None:
    large = {"profile": "default", "env": {f"APP_{i}": "x" * 1000 for i in range(100)}}
    assert_problem(shared_http.post("/v1/runspaces", json=large), 413, "payload-too-large")

    def chunks() -> Iterator[bytes]:
        yield b'{"profile": "default", "image": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    chunked = shared_http.post(
        "/v1/runspaces", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(chunked, 413, "payload-too-large")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"profile": "no-such-profile"}, "profile"),
        ({"profile": "fixed", "image": "python:3.13"}, "image"),
        ({"profile": "default", "image": "docker.io/someone/else:1"}, "image"),
        ({"profile": "default", "env": {"PATH": "/tmp"}}, "env.PATH"),
        ({"profile": "default", "labels": {"runspaced.dev/id": "mine"}}, "labels.runspaced.dev/id"),
        ({"profile": "default", "resources": {"limits": {"cpu": "64"}}}, "resources.limits.cpu"),
        ({"profile": "fixed", "port": 9999}, "port"),
        ({"profile": "default", "ttl_seconds": 10**9}, "ttl_seconds"),
    ],
)
def test_policy_violation_is_422(
    shared_http: httpx.Client, payload: dict[str, object], field: str
) -> None:
    body = assert_problem(shared_http.post("/v1/runspaces", json=payload), 422, "not-allowed")
    assert body["errors"][0]["field"] == field


def test_runspace_limit_is_429(tmp_path: Path) -> None:
    running = start_daemon(tmp_path, {"max_runspaces": 2, "retry_after_seconds": 7})
    try:
        with running.client() as http:
            for _ in range(2):
                assert (
                    http.post(
                        "/v1/runspaces", json={"profile": "default", "image": "sim/slow:5"}
                    ).status_code
                    == 202
                )
            response = http.post("/v1/runspaces", json={"profile": "default"})
            assert_problem(response, 429, "too-many-runspaces")
            assert response.headers["retry-after"] == "7"
            assert "runspaced_create_rejected_total 1" in http.get("/metrics").text
    finally:
        running.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unsynced_watch_is_503(tmp_path: Path) -> None:
    # A kubeconfig that points at a closed loopback port: the watch never syncs.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{_closed_port()}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]\n"
    )
    flags = write_config(tmp_path, {"simulate": False})
    flags["kubeconfig"] = str(kubeconfig)
    running = RunningDaemon(load_config(flags, {}))
    running._thread.start()
    try:
        assert running.daemon.started.wait(30)
        with running.client() as http:
            ready = http.get("/readyz")
            assert_problem(ready, 503, "not-ready")
            assert ready.json()["health"]["synced"] is False
            assert http.get("/healthz").status_code == 200
            response = http.post("/v1/runspaces", json={"profile": "default"})
            assert_problem(response, 503, "not-synced")
            assert response.headers["retry-after"] == "1"
            assert_problem(http.get("/v1/runspaces"), 503, "not-synced")
    finally:
        running.stop()


def test_unknown_query_parameter_is_400(shared_http: httpx.Client) -> None:
    body = assert_problem(
        shared_http.get("/v1/runspaces", params={"stat": "ready"}), 400, "invalid-request"
    )
    assert body["errors"][0]["field"] == "stat"
    response = shared_http.post("/v1/runspaces", params={"wiat": "5"}, json={"profile": "default"})
    assert_problem(response, 400, "invalid-request")
