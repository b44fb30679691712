"""Where a stable-path request goes: pure functions of the flag snapshot and the subject.

No I/O and no ASGI here: the router (``migration/router.py``) reads the request and resolves
the subject, then asks this module which version serves it and which v4 sub-features apply;
shadow reads and offline tools can ask the same questions without a request.

- :func:`endpoint_group`: the endpoint group of a path under ``/api/`` (without ``/api/``);
- :func:`needs_subject`: whether the group's routing depends on who asks (if not, the router
  skips resolving the subject);
- :func:`route`: ``(version, reason)`` = ``api_v4_enabled`` AND ``api_v4_<group>``;
- :func:`sub_features`: ``(cache, validation, error handling)`` on or off for a v4 request.
"""

from __future__ import annotations

from bistro.migration.evaluation import ALL_SUB_FEATURES_ON, Snapshot, evaluate
from bistro.migration.flags import GROUP_FLAGS, Flag

# First segment after /api/ -> endpoint group (``admin`` is ``users`` only for admin/users).
GROUP_OF_SEGMENT = {
    "restaurants": "restaurants",
    "reviews": "reviews",
    "statistics": "statistics",
    "auth": "users",
    "users": "users",
}

SubFeatures = tuple[bool, ...]  # (cache, validation, error handling)


def endpoint_group(rest: str) -> str | None:
    """The endpoint group of a stable path (without ``/api/``), or None if it has none."""
    head, _, tail = rest.partition("/")
    group = GROUP_OF_SEGMENT.get(head)
    if group is None and head == "admin" and (tail == "users" or tail.startswith("users/")):
        return "users"
    return group


def needs_subject(snap: Snapshot, group: str) -> bool:
    """Whether routing ``group`` depends on the subject (else every subject gets the same)."""
    return not snap.subject_free_routing[GROUP_FLAGS[group]]


def route(snap: Snapshot, group: str, subject: str | None) -> tuple[str, str]:
    """(version, reason): ``api_v4_enabled`` AND the group's flag, for this subject."""
    decision = evaluate(snap, Flag.ENABLED, subject)
    if decision.v4:
        decision = evaluate(snap, GROUP_FLAGS[group], subject)
    return decision.version.value, decision.reason


def sub_features(snap: Snapshot, subject: str | None) -> SubFeatures:
    """Which v4 sub-features a request v4 serves gets. Answered from the snapshot when the
    same for everyone (the usual: all on, and the same tuple object, so callers compare by
    identity); evaluated for the subject otherwise."""
    fixed = snap.sub_features
    if fixed is not None:
        return fixed
    return (
        evaluate(snap, Flag.CACHE, subject).v4,
        evaluate(snap, Flag.VALIDATION, subject).v4,
        evaluate(snap, Flag.ERROR_HANDLING, subject).v4,
    )


__all__ = [
    "ALL_SUB_FEATURES_ON",
    "GROUP_OF_SEGMENT",
    "SubFeatures",
    "endpoint_group",
    "needs_subject",
    "route",
    "sub_features",
]
