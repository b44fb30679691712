"""The shadow layer: picks the sample of stable-path GETs and hands them to the shadow runner.

It sits just inside the stable-path router (which has decided the version and written it into
the request context) and outside the metrics. For a sampled request it keeps a copy of the
response as it goes out and, once the app has returned (the response is complete), queues a
:class:`~bistro.parity.shadow.ShadowJob`: nothing waits for the shadow run, and the client's
status, headers, body and latency are those of its own request.

The sample is sticky, by the ``api_v4_shadow`` flag (stages, percentage, overrides and
environment pins like every flag; ``migration rollback`` leaves it alone), evaluated for the
request's subject. With the flag off for everyone (the default) a request costs one identity
check. Writes (any method but GET and HEAD) are never shadowed; they are counted, so that a
comparison in flight across a write is skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.context import CONTEXT_KEY, RequestContext
from bistro.migration.decision import sub_features
from bistro.migration.evaluation import Snapshot, evaluate
from bistro.migration.flags import Flag
from bistro.migration.runtime import FlagRuntime
from bistro.migration.subjects import cookie_client_id, valid_client_id
from bistro.parity.runtime import ParityRuntime
from bistro.parity.shadow import SCOPE_KEYS, ShadowJob, ShadowRunner, cache_tags

_READS = ("GET", "HEAD")


def shadow_layer(app: ASGIApp, runtime: ParityRuntime, flags: FlagRuntime) -> ASGIApp:
    """The layer as the middleware stack adds it: a plain function (calling a function is
    cheaper than calling an instance) that passes every read that is not sampled straight to
    the inner app, and hands everything else to :class:`ShadowLayer`.

    With the cache-hit fast path the cheapest stable-path request is some tens of
    microseconds, so a layer must cost well under a microsecond to keep 0.97 of it."""
    layer = ShadowLayer(app, runtime, flags)
    holder = flags.holder

    def shadow_or_pass(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        method = scope.get("method")
        if method == "GET" or method == "HEAD":
            if layer.off and holder.snapshot is layer.snapshot:  # off for everyone: the usual
                return app(scope, receive, send)
            context: RequestContext | None = scope.get(CONTEXT_KEY)
            if context is None or context.stable_path is None:
                return app(scope, receive, send)
        return layer(scope, receive, send)

    return shadow_or_pass


class ShadowLayer:
    def __init__(
        self,
        app: ASGIApp,
        runtime: ParityRuntime,
        flags: FlagRuntime,
    ) -> None:
        self.app = app
        runtime.attach(app)  # shadow runs go through the layers this one wraps
        self.runner = runtime.current_runner  # built in the lifespan, after this layer
        self.flags = flags
        # The snapshot ``off`` was worked out for: shadowing is off for every subject.
        self.snapshot: Snapshot | None = None
        self.off = False

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function returning the inner app's coroutine (or the sampled run's): no
        # coroutine frame of this layer's own (an async layer's frame is most of its cost).
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        method = scope["method"]
        if method not in _READS:
            runner = self.runner()
            if runner is not None:
                runner.write_seen()
            return self.app(scope, receive, send)
        context: RequestContext | None = scope.get(CONTEXT_KEY)
        if context is None or context.stable_path is None:
            return self.app(scope, receive, send)
        snap = self.flags.holder.snapshot
        if snap is not self.snapshot:
            rules = snap.compiled[Flag.SHADOW]
            self.off = (
                rules.constant is not None and not rules.constant.v4 and not rules.subject_decisions
            )
            self.snapshot = snap
        if self.off or method != "GET":
            return self.app(scope, receive, send)
        subject = context.subject or _subject(scope, context)
        runner = self.runner()
        if (
            runner is None
            or not evaluate(snap, Flag.SHADOW, subject).v4
            # api_v4_validation off: the fallback may answer with v3 after a v4 attempt the
            # client never sees; such requests are not sampled.
            or (context.version == "v4" and not sub_features(snap, subject)[1])
        ):
            return self.app(scope, receive, send)
        return self._sampled(scope, receive, send, context, runner)

    async def _sampled(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        context: RequestContext,
        runner: ShadowRunner,
    ) -> None:
        copied = {key: scope[key] for key in SCOPE_KEYS if key in scope}
        served = context.version or "v3"
        rest = scope["path"][len("/api/v3/") :]
        tags = cache_tags(rest)
        generations = runner.generations(tags)
        writes = runner.writes
        status = 0
        chunks: list[bytes] = []

        async def keeping(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keeping)
        if status == 0:  # no response went out (the app failed before starting one)
            return
        runner.submit(
            ShadowJob(
                scope=copied,
                served=served,
                group=context.group or "other",
                rest=rest,
                status=status,
                body=b"".join(chunks),
                tags=tags,
                generations=generations,
                writes=writes,
            )
        )


def _subject(scope: Scope, context: RequestContext) -> str | None:
    """The subject for the sample when routing did not need one: the signed-in user if the
    router resolved the token, else the client id from X-Client-ID or the cookie."""
    if context.principal is not None:
        return str(context.principal.id)
    client = cookie = None
    for name, value in scope["headers"]:
        if name == b"x-client-id":
            client = value
        elif name == b"cookie":
            cookie = value
    subject = valid_client_id(client) if client else None
    if subject is None and cookie:
        subject = cookie_client_id(cookie)
    return subject
