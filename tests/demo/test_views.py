"""The live table and the plain transition log, fed with synthetic changes."""

from __future__ import annotations

import io
import logging
from dataclasses import replace

import structlog

from runspaced import Endpoint, Phase, RunspaceChange, RunspaceInfo, RunspaceState
from runspaced.demo.live import LiveView, PlainView, describe
from runspaced.demo.logs import demo_logging
from runspaced.demo.probe import ProbeResult

_CREATING = RunspaceInfo(
    id="demo-abc",
    pod_name="demo-abc",
    namespace="default",
    state=RunspaceState.CREATING,
    phase=Phase.SCHEDULING,
    image="python:3.12-slim",
)


def _changes() -> list[RunspaceChange]:
    pulling = replace(_CREATING, phase=Phase.PULLING, detail='Pulling image "python:3.12-slim"')
    pulled = replace(pulling, detail="Successfully pulled image")
    ready = replace(
        pulled, state=RunspaceState.READY, phase=Phase.READY, endpoint=Endpoint("127.4.0.9", 8080)
    )
    return [
        RunspaceChange(_CREATING, None, 1),
        RunspaceChange(pulling, _CREATING, 2),
        RunspaceChange(pulled, pulling, 3),
        RunspaceChange(ready, pulled, 4),
    ]


def test_plain_view_prints_state_and_phase_changes() -> None:
    out = io.StringIO()
    view = PlainView(out)

    for change in _changes():
        view.update(change)

    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # the detail-only change prints nothing
    assert "creating    scheduling" in lines[0]
    assert 'Pulling image "python:3.12-slim"' in lines[1]
    assert "ready" in lines[2]
    assert "endpoint 127.4.0.9:8080" in lines[2]
    assert "\x1b" not in out.getvalue()


def test_plain_view_prints_probe_and_stage() -> None:
    out = io.StringIO()
    view = PlainView(out)

    view.stage("deleting every runspace")
    view.probed("demo-abc", ProbeResult(Endpoint("127.4.0.9", 8080), 200, "hi"))

    first, second = out.getvalue().splitlines()
    assert first.endswith("-- deleting every runspace")
    assert 'GET http://127.4.0.9:8080/ -> HTTP 200 "hi"' in second


def test_live_view_redraws_in_place() -> None:
    out = io.StringIO()
    view = LiveView(out, title="demo", colour=False)
    changes = _changes()

    view.update(changes[0])
    view.draw()
    view.update(changes[-1])
    view.draw()
    view.finish()

    text = out.getvalue()
    table_lines = 4  # title, tally, blank, one runspace
    assert text.startswith("\x1b[?25l")
    assert f"\x1b[{table_lines}F" in text  # back up over the previous table
    assert text.endswith("\x1b[?25h")
    assert text.count("\x1b[2K") == 3 * table_lines


def test_live_view_lines_fit_width() -> None:
    view = LiveView(io.StringIO(), title="demo " * 40, colour=False)
    long_detail = replace(_CREATING, detail="x" * 500)
    view.update(RunspaceChange(long_detail, None, 1))

    lines = view.lines(60)

    assert all(len(line) <= 60 for line in lines)
    assert lines[-1].startswith("  demo-abc")
    assert lines[-1].endswith("…")


def test_describe_prefers_failure_reason() -> None:
    failed = replace(
        _CREATING,
        state=RunspaceState.ERROR,
        reason="ErrImagePull",
        message="pull access denied",
        detail="Back-off pulling image",
    )

    assert describe(failed) == "ErrImagePull: pull access denied"
    assert describe(_CREATING) == ""


def test_logging_held_until_block_ends() -> None:
    err = io.StringIO()
    log = structlog.get_logger("runspaced.test")

    with demo_logging(verbose=False, hold=True, stream=err):
        log.info("demo.ignored")
        log.warning("demo.held", runspace_id="demo-abc")
        assert err.getvalue() == ""

    text = err.getvalue()
    assert "demo.held" in text
    assert "runspace_id=demo-abc" in text
    assert "demo.ignored" not in text


def test_logging_verbose_writes_info_at_once() -> None:
    err = io.StringIO()
    log = structlog.get_logger("runspaced.test")

    with demo_logging(verbose=True, hold=False, stream=err):
        log.info("demo.shown")
        assert "demo.shown" in err.getvalue()


def test_stdlib_logging_held_until_block_ends() -> None:
    err = io.StringIO()
    library_log = logging.getLogger("aiohttp.server")

    with demo_logging(verbose=False, hold=True, stream=err):
        library_log.error("Error handling request")
        library_log.info("not shown")
        assert err.getvalue() == ""

    text = err.getvalue()
    assert "aiohttp.server: Error handling request" in text
    assert "not shown" not in text


def test_live_view_caps_height() -> None:
    view = LiveView(io.StringIO(), title="demo", colour=False)
    for index in range(30):
        info = replace(_CREATING, id=f"demo-{index:03d}")
        if index < 5:
            info = replace(info, state=RunspaceState.DELETED)
        view.update(RunspaceChange(info, None, index + 1))

    lines = view.lines(80, 12)

    assert len(lines) == 12
    assert lines[-1] == "  ... and 22 more (all are in the summary)"
    shown = [line.split()[0] for line in lines[3:-1]]
    assert shown == [f"demo-{index:03d}" for index in range(5, 13)]
