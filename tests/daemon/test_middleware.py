"""The ASGI middleware and helpers in isolation: 500 problems, auth, redaction, metrics."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from runspaced._daemon.access import AccessLogMiddleware
from runspaced._daemon.auth import token_matches
from runspaced._daemon.logs import configure_logging, redact_secrets
from runspaced._daemon.metrics import DaemonMetrics, render_family


async def broken(request: Request) -> PlainTextResponse:
    raise RuntimeError("bug in a route")


@pytest.mark.anyio
async def test_escaped_exception_becomes_500_problem() -> None:
    metrics = DaemonMetrics()
    # Placed as in the daemon: inside Starlette's ServerErrorMiddleware.
    app = Starlette(routes=[Route("/broken", broken)])
    app.add_middleware(AccessLogMiddleware, metrics=metrics)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as client:
        response = await client.get("/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:runspaced:problem:internal-error"
    assert "bug in a route" not in response.text
    assert metrics.requests[("GET", "/broken", "500")] == 1


def test_token_matches() -> None:
    assert token_matches("Bearer abc", "abc")
    assert token_matches("bearer abc", "abc")
    assert not token_matches("Bearer abcd", "abc")
    assert not token_matches("Basic abc", "abc")
    assert not token_matches(None, "abc")
    assert not token_matches("", "abc")


def test_redact_secrets() -> None:
    event: dict[str, Any] = {
        "event": "x",
        "token": "t",
        "Authorization": "a",
        "env": {"K": "v"},
        "runspace_id": "rs-1",
    }
    redacted = redact_secrets(None, "info", event)
    assert redacted["token"] == "[redacted]"
    assert redacted["Authorization"] == "[redacted]"
    assert redacted["env"] == "[redacted]"
    assert redacted["runspace_id"] == "rs-1"


def test_metric_label_values_escaped() -> None:
    text = render_family("m", "gauge", "help", [({"route": 'a"b\\c\nd'}, 1.5)])
    assert text.splitlines() == ["# HELP m help", "# TYPE m gauge", 'm{route="a\\"b\\\\c\\nd"} 1.5']


def test_metric_values_formatted() -> None:
    text = render_family("m", "gauge", "help", [({}, 3), ({"a": "b"}, float("nan"))])
    assert "m 3\n" in text
    assert 'm{a="b"} NaN' in text


@pytest.mark.anyio
async def test_openapi_route_label() -> None:
    metrics = DaemonMetrics()
    app = FastAPI()
    app.add_middleware(AccessLogMiddleware, metrics=metrics)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as client:
        await client.get("/openapi.json")
        await client.get("/nowhere")
    assert metrics.requests[("GET", "/openapi.json", "200")] == 1
    assert metrics.requests[("GET", "unmatched", "404")] == 1


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_logged_traceback_hides_locals(log_format: str) -> None:
    stream = io.StringIO()
    configure_logging(log_format, "info", stream)
    try:
        # Built at run time, so the traceback's source lines do not contain it.
        authorization = "Bearer " + "-".join(["secret", "in", "a", "local"])
        raise ValueError(f"failed with {len(authorization)} characters")
    except ValueError as exc:
        structlog.get_logger("test").error("request.failed", exc_info=exc)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    output = stream.getvalue()
    assert "request.failed" in output
    assert "ValueError" in output
    assert "secret-in-a-local" not in output
