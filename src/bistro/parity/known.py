"""The known, documented differences between v3 and v4: the one list, in one place.

Each entry says when it applies and compares its part by its own rule; nothing here is
simply ignored. The comparison core (``parity.compare``), offline replay, shadow mode and the
superset tests all read this list. To add one (docs/migration-guide.md, "Parity"): write a
``KnownDifference`` with a name, the reason, ``applies``, ``check`` (the differences its own
rule finds) and ``handles`` (the paths the general rule must then leave alone), append it to
``KNOWN_DIFFERENCES``, and add a unit test in tests/unit/parity/test_known.py that shows both
a pair it accepts and one it still reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bistro.parity.compare import MISSING, Answer, Difference

Json = Any


@dataclass(frozen=True)
class KnownDifference:
    name: str
    reason: str
    applies: Callable[[Answer, Answer], bool]
    check: Callable[[Answer, Answer], list[Difference]]
    handles: tuple[str, ...]  # paths left to ``check``; "$" is the whole answer


def _get(body: Json, *keys: str) -> Json:
    for key in keys:
        if not isinstance(body, dict) or key not in body:
            return MISSING
        body = body[key]
    return body


def _refusal(answer: Answer, side: str) -> list[Difference]:
    """An error envelope for ``answer``'s own status, or the fields that make it not one."""
    out = []
    body = answer.body
    if _get(body, "success") is not False:
        out.append(Difference("$.success", False, _get(body, "success"), "rule"))
    if _get(body, "status_code") != answer.status:
        out.append(Difference("$.status_code", answer.status, _get(body, "status_code"), "rule"))
    if not isinstance(_get(body, "error"), str):
        out.append(Difference("$.error", "<an error message>", _get(body, "error"), "rule"))
    if side == "v3":  # the rule reads the v3 side too: swap so v3's value is in v3's slot
        out = [Difference(d.path, d.v4, d.v3, d.kind) for d in out]
    return out


def _bad_input_applies(v3: Answer, v4: Answer) -> bool:
    return v3.status == 400 and v4.status == 422


def _bad_input_check(v3: Answer, v4: Answer) -> list[Difference]:
    return _refusal(v3, "v3") + _refusal(v4, "v4")


def _v3_error_body_applies(v3: Answer, v4: Answer) -> bool:
    return v3.status == v4.status and v3.status >= 400


def _v3_error_body_check(v3: Answer, v4: Answer) -> list[Difference]:
    # v3's three fields are compared by the general (superset) rule; v4's code and details
    # are v4's own. What this rule adds: v4's are there and well-formed (a client that moved
    # to v4 reads them).
    out = []
    if isinstance(v4.body, dict) and "code" in v4.body:  # absent: api_v4_error_handling off
        if not isinstance(v4.body["code"], str):
            out.append(Difference("$.code", "<a machine code>", v4.body["code"], "rule"))
        if not isinstance(v4.body.get("details", {}), dict):
            out.append(Difference("$.details", "<an object>", v4.body.get("details"), "rule"))
    return out


def _estimate_applies(v3: Answer, v4: Answer) -> bool:
    return v3.status == v4.status == 200 and _get(v4.body, "meta", "total_is_estimate") is True


def _estimate_check(v3: Answer, v4: Answer) -> list[Difference]:
    # An estimated total is not v3's exact count, but it never hides rows the client was
    # shown: at least offset + the items on this page, and a non-negative integer.
    total = _get(v4.body, "meta", "total")
    data = _get(v4.body, "data")
    offset = _get(v4.body, "meta", "offset")
    shown = (offset if isinstance(offset, int) else 0) + (
        len(data) if isinstance(data, list) else 0
    )
    if type(total) is not int or total < shown:
        exact = _get(v3.body, "meta", "total")
        return [Difference("$.meta.total", exact, total, "rule")]
    return []


KNOWN_DIFFERENCES: tuple[KnownDifference, ...] = (
    KnownDifference(
        "bad_input_refused",
        "v3 refuses bad input with 400, v4 with 422: compared as 'both refused' (each an "
        "error envelope for its own status); the messages are each version's own",
        _bad_input_applies,
        _bad_input_check,
        ("$",),
    ),
    KnownDifference(
        "v3_error_body",
        "v3's error body is success, error and status_code; v4 adds code and details, "
        "which must be a string and an object",
        _v3_error_body_applies,
        _v3_error_body_check,
        (),
    ),
    KnownDifference(
        "estimated_total",
        "v4 may answer a list with an estimated total (meta.total_is_estimate: true): then "
        "meta.total need not equal v3's count, but must be an integer no smaller than "
        "offset + the items on the page",
        _estimate_applies,
        _estimate_check,
        ("$.meta.total",),
    ),
)


def known_difference(name: str) -> KnownDifference:
    for rule in KNOWN_DIFFERENCES:
        if rule.name == name:
            return rule
    raise KeyError(name)
