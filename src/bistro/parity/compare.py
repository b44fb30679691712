"""The comparison core: is v4's answer to a request the answer v3 gave, field for field?

Pure and synchronous (no I/O), so replay, shadow mode and the superset tests share it.

Rules (DESIGN section 2, "v4 is a superset of v3"):
- every field v3 returns must be in v4 with the same value and JSON type; fields only v4 has
  are not compared;
- object key order never matters; list order matters unless the caller names the list as
  unordered (an endpoint that promises no order), in which case items are paired by ``id``
  (or by their whole value when they have none);
- numbers are equal when they are the same type and within a relative 1e-9 (a rounding
  change in the second decimal is a mismatch, float formatting noise is not);
- the known, documented differences between the versions (``parity.known``) are applied
  first and compare their part by their own rule;
- ``noise`` paths (fields that two v3 answers disagree on) and ``ignore`` paths are compared
  for presence only; differences on noise paths are kept apart, never counted as mismatches.

Paths are JSONPath-like: ``$.data[3].rating_avg``; a pattern may use ``[*]`` for any index
(``$.data[*].is_open_now``) and names a whole subtree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

Json = Any


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()
REL_TOL = 1e-9

MATCH = "match"
NOISE = "noise"  # differences only on noise paths
MISMATCH = "mismatch"

STATUS_PATH = "$<status>"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A quoted key (kept as it is) or a list index (generalised).
_INDEX = re.compile(r'\["(?:[^"\\]|\\.)*"\]|\[\d+\]')


@dataclass(frozen=True, slots=True)
class Answer:
    """One version's answer: status and parsed JSON body (``None`` when it was not JSON)."""

    status: int
    body: Json


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    v3: Json
    v4: Json
    kind: str  # value | type | missing | length | status | rule

    def as_dict(self) -> dict[str, Json]:
        return {
            "path": self.path,
            "kind": self.kind,
            "v3": None if self.v3 is MISSING else self.v3,
            "v4": None if self.v4 is MISSING else self.v4,
            "v3_missing": self.v3 is MISSING,
            "v4_missing": self.v4 is MISSING,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    verdict: str
    differences: tuple[Difference, ...] = ()
    noise: tuple[Difference, ...] = ()
    known: tuple[str, ...] = ()  # the known differences that applied

    @property
    def matched(self) -> bool:
        return self.verdict != MISMATCH


@dataclass(frozen=True)
class Rules:
    """Compiled path patterns: ``present`` (compared for presence only), ``noise`` (the same,
    but reported), ``unordered`` (lists compared as sets) and ``handled`` (left to a known
    difference's own rule)."""

    ignore: frozenset[str] = frozenset()
    noise: frozenset[str] = frozenset()
    unordered: frozenset[str] = frozenset()
    handled: frozenset[str] = field(default_factory=frozenset)


def pattern(path: str) -> str:
    """``$.data[3].id`` -> ``$.data[*].id``: the path with every list index generalised."""
    return _INDEX.sub(lambda m: m[0] if m[0][1] == '"' else "[*]", path)


def child(path: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{path}.{key}"
    return f"{path}[{orjson.dumps(key).decode()}]"


def covered(path: str, patterns: Collection[str]) -> bool:
    """Whether ``path`` or one of its ancestors matches a pattern (exact or generalised)."""
    if not patterns:
        return False
    general = pattern(path)
    if path in patterns or general in patterns:
        return True
    # Ancestors: cut at every '.' or '[' that starts a component (quoted keys may contain
    # either, so scan the generalised path's components rather than split blindly).
    return any(general[:cut] in patterns for cut in _component_starts(general))


def _component_starts(path: str) -> Iterable[int]:
    in_quote = False
    escaped = False
    for i, char in enumerate(path):
        if in_quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_quote = False
            continue
        if char == '"':
            in_quote = True
        elif char in ".[" and i > 0:
            yield i


def compare(
    v3: Answer,
    v4: Answer,
    *,
    noise: Collection[str] = (),
    ignore: Collection[str] = (),
    unordered: Collection[str] = (),
) -> Comparison:
    """Compare v4's answer with v3's under the superset rule and the known differences."""
    from bistro.parity.known import KNOWN_DIFFERENCES

    found: list[Difference] = []
    known: list[str] = []
    handled: set[str] = set()
    for rule in KNOWN_DIFFERENCES:
        if rule.applies(v3, v4):
            known.append(rule.name)
            found.extend(rule.check(v3, v4))
            handled.update(rule.handles)
    rules = Rules(frozenset(ignore), frozenset(noise), frozenset(unordered), frozenset(handled))
    noisy: list[Difference] = []
    if "$" not in handled:
        if v3.status != v4.status:
            found.append(Difference(STATUS_PATH, v3.status, v4.status, "status"))
        else:
            _walk(v3.body, v4.body, "$", rules, found, noisy)
    if found:
        verdict = MISMATCH
    elif noisy:
        verdict = NOISE
    else:
        verdict = MATCH
    return Comparison(verdict, tuple(found), tuple(noisy), tuple(known))


def differences(a: Json, b: Json, *, unordered: Collection[str] = ()) -> list[Difference]:
    """Every path where ``b`` is not a superset of ``a`` (used to learn noise: v3 vs v3)."""
    found: list[Difference] = []
    _walk(a, b, "$", Rules(unordered=frozenset(unordered)), found, [])
    return found


def _walk(
    v3: Json,
    v4: Json,
    path: str,
    rules: Rules,
    found: list[Difference],
    noisy: list[Difference],
) -> None:
    if rules.handled and covered(path, rules.handled):
        return
    if v4 is MISSING:
        found.append(Difference(path, v3, MISSING, "missing"))
        return
    presence_only = covered(path, rules.ignore)
    if not presence_only and covered(path, rules.noise):
        before = len(found)
        _walk(v3, v4, path, Rules(unordered=rules.unordered), found, noisy)
        noisy.extend(found[before:])
        del found[before:]
        return
    if presence_only:
        return
    kind3, kind4 = type(v3), type(v4)
    if kind3 is dict:
        if kind4 is not dict:
            found.append(Difference(path, v3, v4, "type"))
            return
        for key, value in v3.items():
            _walk(value, v4.get(key, MISSING), child(path, key), rules, found, noisy)
        return
    if kind3 is list:
        if kind4 is not list:
            found.append(Difference(path, v3, v4, "type"))
            return
        if rules.unordered and covered(path, rules.unordered):
            _walk_unordered(v3, v4, path, rules, found, noisy)
            return
        for i, (a, b) in enumerate(zip(v3, v4, strict=False)):
            _walk(a, b, f"{path}[{i}]", rules, found, noisy)
        if len(v3) != len(v4):
            # Report the first item one side has and the other has not: the path says where.
            shorter = min(len(v3), len(v4))
            first = f"{path}[{shorter}]"
            a = v3[shorter] if len(v3) > shorter else MISSING
            b = v4[shorter] if len(v4) > shorter else MISSING
            found.append(Difference(first, a, b, "length"))
        return
    if kind3 is float or kind3 is int:
        if kind4 is not kind3:
            found.append(Difference(path, v3, v4, "type"))
        elif v3 != v4 and not (
            kind3 is float and math.isclose(v3, v4, rel_tol=REL_TOL, abs_tol=0.0)
        ):
            found.append(Difference(path, v3, v4, "value"))
        return
    if kind3 is not kind4:
        found.append(Difference(path, v3, v4, "type"))
    elif v3 != v4:
        found.append(Difference(path, v3, v4, "value"))


def _identity(item: Json) -> Json:
    if type(item) is dict and "id" in item:
        return ("id", item["id"])
    return ("value", orjson.dumps(item, option=orjson.OPT_SORT_KEYS))


def _walk_unordered(
    v3: list[Json],
    v4: list[Json],
    path: str,
    rules: Rules,
    found: list[Difference],
    noisy: list[Difference],
) -> None:
    """Items paired by identity; each v3 item must have a partner (reported at its v3 index)."""
    by_id: dict[Json, list[Json]] = {}
    for item in v4:
        by_id.setdefault(_identity(item), []).append(item)
    for i, item in enumerate(v3):
        partners = by_id.get(_identity(item))
        if not partners:
            found.append(Difference(f"{path}[{i}]", item, MISSING, "missing"))
            continue
        _walk(item, partners.pop(0), f"{path}[{i}]", rules, found, noisy)
    extra = sum(len(rest) for rest in by_id.values())
    if extra:
        found.append(Difference(path, len(v3), len(v4), "length"))
