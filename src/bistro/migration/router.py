"""The stable path's ASGI shell: ``/api/<path>`` served by v3 or v4, per subject and group.

For ``/api/<path>`` (anything under ``/api/`` except ``/api/v3`` and ``/api/v4``) it reads the
request's subject (the signed-in user id, else ``X-Client-ID``, else the ``bistro_client_id``
cookie, which the first response sets when there is none), asks :mod:`.decision` which
version serves it, writes the decision into the request context, rewrites the scope path to
``/api/<version>/<path>`` (``raw_path`` stays as the client sent it: nothing routes on it) and
lets the app route it, so the stable path runs exactly the code ``/api/v3`` and ``/api/v4``
run. The response carries ``X-API-Version``.

Sub-feature kill switches, on every request v4 serves (stable path or ``/api/v4``): with
``api_v4_cache`` off the context's ``cache_bypass`` is set (the v4 cache skips itself); with
``api_v4_error_handling`` off its ``error_style`` is "v3" (core.handlers); with
``api_v4_validation`` off, on the stable path only, :mod:`.fallback` serves what v4 refuses
with v3.

The pieces: :mod:`.decision` (pure: snapshot + subject -> version, reason, sub-features),
:mod:`.subjects` (client ids, the token -> user cache; a fresh token lookup's principal is
shared with the route through the context), :mod:`.fallback` (the validation fallback), and
this shell (headers, a memo of anonymous decisions, the path rewrite).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.context import RequestContext, context_of
from bistro.core.responses import error_body
from bistro.migration import decision
from bistro.migration.decision import ALL_SUB_FEATURES_ON, endpoint_group
from bistro.migration.evaluation import Snapshot
from bistro.migration.fallback import serve_with_v3_validation
from bistro.migration.runtime import FlagRuntime
from bistro.migration.subjects import (
    bearer_token,
    cookie_client_id,
    new_client_id,
    set_cookie_header,
    valid_client_id,
)

_VERSION_BYTES = {"v3": b"v3", "v4": b"v4"}
_GROUPS = decision.GROUP_OF_SEGMENT


class _Request:
    """What the router reads from one request's headers, and the subject it settles on.

    The client id is validated only when asked for: a returning client's decision usually
    comes from the router's memo, keyed by the raw header values.
    """

    __slots__ = ("_client_id", "_parsed", "client_raw", "cookie_raw", "cookie_to_set", "token")

    def __init__(
        self, authorization: bytes | None, client: bytes | None, cookie: bytes | None
    ) -> None:
        self.token = bearer_token(authorization) if authorization else None
        self.client_raw = client
        self.cookie_raw = cookie
        self.cookie_to_set: str | None = None
        self._client_id: str | None = None
        self._parsed = False

    @property
    def client_id(self) -> str | None:
        if not self._parsed:
            self._parsed = True
            client, cookie = self.client_raw, self.cookie_raw
            client_id = valid_client_id(client) if client else None
            if client_id is None and cookie:
                client_id = cookie_client_id(cookie)
            self._client_id = client_id
        return self._client_id

    def ensure_client_id(self) -> str:
        client_id = self.client_id
        if client_id is None:
            client_id = self._client_id = self.cookie_to_set = new_client_id()
        return client_id


# Anonymous decisions remembered per snapshot: (group, X-Client-ID, Cookie) as sent ->
# (version, reason, subject). Bounded; cleared whole when full or when the flags change.
_MEMO_MAX_ENTRIES = 65_536
_MEMO_MAX_COOKIE = 512


def _read_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(Authorization, X-Client-ID, Cookie) as sent; several Cookie headers are joined."""
    headers = scope["headers"]
    by_name = dict(headers)  # one C call; only a header name sent twice needs the loop
    if len(by_name) == len(headers):
        return by_name.get(b"authorization"), by_name.get(b"x-client-id"), by_name.get(b"cookie")
    authorization = client = cookie = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value
        elif name == b"x-client-id":
            client = value
        elif name == b"cookie":
            cookie = value if cookie is None else cookie + b"; " + value
    return authorization, client, cookie


def _request(scope: Scope) -> _Request:
    return _Request(*_read_headers(scope))


class StableRouter:
    def __init__(self, app: ASGIApp, runtime: FlagRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self.served = runtime.served
        self._memo: dict[tuple[str, bytes | None, bytes | None], tuple[str, str, str | None]] = {}
        self._memo_snapshot: Snapshot | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/api/"):
            rest = path[5:]
            head, slash, tail = rest.partition("/")
            group = _GROUPS.get(head)
            if group is not None:
                await self._stable(scope, receive, send, rest, group)
                return
            if head == "v4" and slash and not tail.startswith("migration/"):
                await self._direct_v4(scope, receive, send, tail)
                return
            if head == "v3" and slash:
                context = context_of(scope)
                context.version = "v3"
                context.group = endpoint_group(tail)
            if head not in ("v3", "v4"):  # /api/v3/..., /api/v4 and the operator API pass
                group = endpoint_group(rest)
                if group is None:
                    await self._not_found(scope, send)
                else:
                    await self._stable(scope, receive, send, rest, group)
                return
        if path.endswith("/auth/logout"):
            await self._watch_logout(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _subject(
        self, req: _Request, context: RequestContext, *, anonymous_cookie: bool
    ) -> str | None:
        """User id when the bearer token is live, else the client id (made up if allowed)."""
        if req.token is not None:
            try:
                user_id = await self.runtime.tokens.user_id(
                    self.runtime.database(), req.token, context
                )
            except Exception:  # database unreachable: route by client id; the route will answer
                user_id = None
            if user_id is not None:
                return str(user_id)
        if anonymous_cookie:
            return req.ensure_client_id()
        return req.client_id

    async def _stable(
        self, scope: Scope, receive: Receive, send: Send, rest: str, group: str
    ) -> None:
        snap = self.runtime.holder.snapshot
        authorization, client, cookie_sent = _read_headers(scope)
        if snap is not self._memo_snapshot:
            self._memo = {}
            self._memo_snapshot = snap
        # A returning anonymous client: its decision is remembered (no parsing, no hashing).
        known = self._memo.get((group, client, cookie_sent)) if authorization is None else None
        cookie = token = None
        context = context_of(scope)
        if known is not None:
            version, reason, subject = known
        else:
            req = _Request(authorization, client, cookie_sent)
            token = req.token
            if token is None:
                version, reason, subject = self._anonymous(snap, group, req)
            else:
                subject = (
                    await self._subject(req, context, anonymous_cookie=True)
                    if decision.needs_subject(snap, group)
                    else None
                )
                version, reason = decision.route(snap, group, subject)
            cookie = req.cookie_to_set
        context.stable_path = scope["path"]
        context.group = group
        context.flag_reason = reason
        context.subject = subject
        context.version = version
        # Routed by rewriting the path; raw_path stays what the client sent (nothing routes on it).
        scope["path"] = _PREFIXES[version] + rest
        extra = context.response_headers
        if extra is None or rest == "auth/logout":
            send = self._tagging_send(
                context, send, cookie, token if rest == "auth/logout" else None
            )
        else:
            # The request-id middleware adds these when the response starts: no extra layer.
            extra[b"x-api-version"] = _VERSION_BYTES[version]
            if cookie is not None:
                name, value = set_cookie_header(cookie)
                extra[name] = value
        if version == "v4" and not _apply_sub_features(context, snap, subject):
            served = self.served

            def count(answered: str) -> None:
                served.record(answered, group)

            await serve_with_v3_validation(self.app, scope, receive, send, context, rest, count)
            return
        self.served.record(version, group)
        await self.app(scope, receive, send)

    def _anonymous(self, snap: Snapshot, group: str, req: _Request) -> tuple[str, str, str | None]:
        """(version, reason, subject) for a request without a bearer token, remembered."""
        key = (group, req.client_raw, req.cookie_raw)
        client_id = req.ensure_client_id()  # a first visit gets one (and the cookie)
        subject = client_id if decision.needs_subject(snap, group) else None
        version, reason = decision.route(snap, group, subject)
        decided = (version, reason, subject)
        cookie = req.cookie_raw
        if req.cookie_to_set is None and (cookie is None or len(cookie) <= _MEMO_MAX_COOKIE):
            if len(self._memo) >= _MEMO_MAX_ENTRIES:
                self._memo = {}
            self._memo[key] = decided
        return decided

    def _tagging_send(
        self, context: RequestContext, send: Send, cookie: str | None, token: str | None
    ) -> Send:
        """``send`` adding the stable path's headers itself (a logout also drops its token)."""

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", ()),
                    (b"x-api-version", _VERSION_BYTES[context.version or "v3"]),
                ]
                if cookie is not None:
                    headers.append(set_cookie_header(cookie))
                message["headers"] = headers
                if token is not None and message["status"] == 200:
                    self.runtime.tokens.forget(token)
            await send(message)

        return send_tagged

    async def _direct_v4(self, scope: Scope, receive: Receive, send: Send, rest: str) -> None:
        snap = self.runtime.holder.snapshot
        subject = None
        context = context_of(scope)
        if snap.sub_features is None:
            subject = await self._subject(_request(scope), context, anonymous_cookie=False)
        _apply_sub_features(context, snap, subject)  # /api/v4 keeps v4's validation regardless
        context.version = "v4"
        context.group = endpoint_group(rest)
        if scope["path"].endswith("/auth/logout"):
            await self._watch_logout(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _watch_logout(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A successful logout drops the token from the subject cache at once."""
        token = _request(scope).token

        async def send_watching(message: Message) -> None:
            if (
                token is not None
                and message["type"] == "http.response.start"
                and message["status"] == 200
            ):
                self.runtime.tokens.forget(token)
            await send(message)

        await self.app(scope, receive, send_watching)

    async def _not_found(self, scope: Scope, send: Send) -> None:
        body = error_body(f"No route for {scope['method']} {scope['path']}", 404, "NOT_FOUND")
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _apply_sub_features(context: RequestContext, snap: Snapshot, subject: str | None) -> bool:
    """Sets the cache and error-style switches for a request v4 serves; returns whether v4's
    validation applies."""
    features = decision.sub_features(snap, subject)
    if features is ALL_SUB_FEATURES_ON:
        return True  # the usual: nothing to switch off
    cache_on, validation_on, errors_on = features
    if not cache_on:
        context.cache_bypass = True
    if not errors_on:
        context.error_style = "v3"
    return validation_on


_PREFIXES = {"v3": "/api/v3/", "v4": "/api/v4/"}
