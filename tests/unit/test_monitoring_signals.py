"""What the metrics middleware records: the traffic source, the client_abort outcome, and the
server's latency to the first byte (not the client's time sending or reading)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from bistro.core.context import context_of
from bistro.monitoring.middleware import MetricsMiddleware
from bistro.monitoring.recorder import CLIENT_ABORT, SOURCES, Recorder, mark_source
from tests.integration.monitoring_helpers import FakeTimer


class _Route:
    path = "/api/v3/reviews"


def scope_for(path: str = "/api/v3/reviews", method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}


def app_doing(
    timer: FakeTimer, *, read_body: bool = True, think: float = 0.01, stream: float = 0.0
) -> Any:
    """Reads the body (if asked), works ``think`` seconds, answers 201 and then spends
    ``stream`` seconds handing the body over (a slow reader's backpressure)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = _Route
        if read_body:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                more = message.get("more_body", False)
        timer.now += think
        await send({"type": "http.response.start", "status": 201, "headers": []})
        timer.now += stream
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def call(
    middleware: MetricsMiddleware,
    scope: dict[str, Any],
    messages: list[Message],
    timer: FakeTimer,
    *,
    upload_seconds: float = 0.0,
    send_fails: bool = False,
) -> None:
    pending = list(messages)

    async def receive() -> Message:
        timer.now += upload_seconds  # the client trickles its body in
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if send_fails and message["type"] == "http.response.body":
            raise OSError("connection reset by peer")

    await middleware(scope, receive, send)


BODY = [{"type": "http.request", "body": b"{}", "more_body": False}]


async def test_sources_stable_direct_and_marked() -> None:
    timer, recorder = FakeTimer(), Recorder()
    middleware = MetricsMiddleware(app_doing(timer), recorder, access_log=False, timer=timer)
    await call(middleware, scope_for(), BODY, timer)
    stable = scope_for()
    context = context_of(stable)
    context.stable_path, context.version, context.group = "/api/reviews", "v3", "reviews"
    await call(middleware, stable, BODY, timer)
    shadow = scope_for()
    mark_source(shadow, "shadow")
    await call(middleware, shadow, BODY, timer)
    keys = set(recorder.drain())
    assert keys == {
        ("direct", "v3", "reviews", "/reviews", "2xx"),
        ("stable", "v3", "reviews", "/reviews", "2xx"),
        ("shadow", "v3", "reviews", "/reviews", "2xx"),
    }
    assert SOURCES == ("stable", "direct", "shadow", "synthetic")
    with pytest.raises(ValueError, match="unknown traffic source"):
        mark_source(scope_for(), "tests")


async def test_body_cut_off_is_a_client_abort_not_a_5xx() -> None:
    timer, recorder = FakeTimer(), Recorder()
    middleware = MetricsMiddleware(app_doing(timer), recorder, access_log=False, timer=timer)
    cut = [{"type": "http.request", "body": b'{"rat', "more_body": True}]
    with pytest.raises(ClientDisconnect):
        await call(middleware, scope_for(), cut, timer)
    (key,) = recorder.drain()
    assert key[-1] == CLIENT_ABORT


async def test_an_answer_after_the_disconnect_is_still_a_client_abort() -> None:
    """The error handler answers a cut-off body with a 400 that goes nowhere: still an abort."""
    timer, recorder = FakeTimer(), Recorder()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = _Route
        while (await receive())["type"] != "http.disconnect":
            pass
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = MetricsMiddleware(app, recorder, access_log=False, timer=timer)
    cut = [{"type": "http.request", "body": b'{"rat', "more_body": True}]
    await call(middleware, scope_for(), cut, timer)
    assert [key[-1] for key in recorder.drain()] == [CLIENT_ABORT]


async def test_failed_send_is_a_client_abort() -> None:
    timer, recorder = FakeTimer(), Recorder()
    middleware = MetricsMiddleware(app_doing(timer), recorder, access_log=False, timer=timer)
    with pytest.raises(OSError):
        await call(middleware, scope_for(), BODY, timer, send_fails=True)
    assert [key[-1] for key in recorder.drain()] == [CLIENT_ABORT]


async def test_disconnect_after_the_response_is_not_an_abort() -> None:
    """A listener that learns of the disconnect once the response is out (the normal end of a
    streamed answer) does not make the request an abort."""
    timer, recorder = FakeTimer(), Recorder()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = _Route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x"})
        assert (await receive())["type"] == "http.disconnect"

    middleware = MetricsMiddleware(app, recorder, access_log=False, timer=timer)
    await call(middleware, scope_for(method="GET"), [], timer)
    assert [key[-1] for key in recorder.drain()] == ["2xx"]


async def test_latency_is_time_to_first_byte_without_the_clients_time() -> None:
    timer, recorder = FakeTimer(), Recorder()
    # 20 ms of work; the client takes 3 s to send its body and 5 s to read the answer.
    app = app_doing(timer, think=0.02, stream=5.0)
    middleware = MetricsMiddleware(app, recorder, access_log=False, timer=timer)
    await call(middleware, scope_for(), BODY, timer, upload_seconds=3.0)
    (series,) = recorder.drain().values()
    assert series.latency_sum == pytest.approx(0.02)
