"""Bistro's sticky bucket agrees with Unleash on every rollout case of the client specification.

The five files (../shared/conformance/unleash, Unleash client-specification 6.1.0) hold
features with strategies and expected on/off results. Each rollout strategy is decided here
with Bistro's own functions (``rollout_bucket``/``in_rollout``, the ones ``evaluate`` uses),
and flexibleRollout cases whose stickiness is a subject Bistro has are also run through
``evaluate`` itself. Out of scope, as the README says: constraints (none of these rollout
cases has any: asserted below) and variants (``variantTests`` in 12-custom-stickiness.json are
not run).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from bistro.migration.env import EnvPins
from bistro.migration.evaluation import (
    FlagState,
    Snapshot,
    evaluate,
    in_rollout,
    rollout_bucket,
)
from bistro.migration.flags import Flag, Stage

CONFORMANCE = Path(os.environ.get("BISTRO_CONFORMANCE_DIR", "/work/shared/conformance/unleash"))
FILES = [
    "03-gradual-rollout-user-id-strategy.json",
    "04-gradual-rollout-session-id-strategy.json",
    "05-gradual-rollout-random-strategy.json",
    "10-flexible-rollout-strategy.json",
    "12-custom-stickiness.json",
]
ROLLOUT_STRATEGIES = {
    "gradualRolloutUserId",
    "gradualRolloutSessionId",
    "gradualRolloutRandom",
    "flexibleRollout",
}


def _stickiness_value(strategy: dict[str, Any], context: dict[str, Any]) -> str | None:
    name, params = strategy["name"], strategy.get("parameters", {})
    if name == "gradualRolloutUserId":
        return context.get("userId")
    if name == "gradualRolloutSessionId":
        return context.get("sessionId")
    stickiness = params.get("stickiness", "default")
    if stickiness == "default":
        # Unleash: userId, else sessionId, else a random value.
        return context.get("userId") or context.get("sessionId") or str(random.random())
    if stickiness in ("userId", "sessionId"):
        return context.get(stickiness)
    return context.get("properties", {}).get(stickiness)


def _strategy_on(strategy: dict[str, Any], context: dict[str, Any], toggle: str) -> bool:
    name, params = strategy["name"], strategy.get("parameters", {})
    assert not strategy.get("constraints"), "constraints are out of scope and absent here"
    if name == "default":
        return True
    assert name in ROLLOUT_STRATEGIES, name
    percentage = float(params.get("rollout", params.get("percentage", 0)))
    if name == "gradualRolloutRandom":
        return in_rollout(random.randint(1, 100), percentage)
    value = _stickiness_value(strategy, context)
    if value is None:
        return False
    return in_rollout(rollout_bucket(params.get("groupId", toggle), value), percentage)


def _cases() -> list[Any]:
    cases = []
    for name in FILES:
        spec = json.loads((CONFORMANCE / name).read_text())
        features = {f["name"]: f for f in spec["state"]["features"]}
        for test in spec["tests"]:
            cases.append(
                pytest.param(
                    features[test["toggleName"]], test, id=f"{name[:2]}: {test['description']}"
                )
            )
    return cases


ALL_CASES = _cases()


def test_every_file_contributes_cases() -> None:
    assert len(ALL_CASES) == 6 + 6 + 4 + 10 + 5


@pytest.mark.parametrize(("feature", "case"), ALL_CASES)
def test_rollout_case(feature: dict[str, Any], case: dict[str, Any]) -> None:
    on = feature["enabled"] and any(
        _strategy_on(s, case["context"], feature["name"]) for s in feature["strategies"]
    )
    assert on is case["expectedResult"]


def _through_evaluate(group_id: str, percentage: float, subject: str | None) -> bool:
    """The same case through ``evaluate``: a flag at ``partial`` whose group id is the feature's."""
    state = FlagState(Flag.RESTAURANTS, Stage.PARTIAL, percentage)
    snap = Snapshot({Flag.RESTAURANTS: state}, EnvPins(), version=1)
    snap.compiled[Flag.RESTAURANTS].set_group_id(group_id)
    return evaluate(snap, Flag.RESTAURANTS, subject).v4


def _sticky_cases() -> list[Any]:
    """Cases decided by one subject-sticky rollout strategy (no random stickiness, no default)."""
    picked = []
    for param in ALL_CASES:
        feature, case = param.values
        strategies = feature["strategies"]
        if len(strategies) != 1 or not feature["enabled"]:
            continue
        strategy, context = strategies[0], case["context"]
        if strategy["name"] == "gradualRolloutRandom":
            continue
        sticky = strategy.get("parameters", {}).get("stickiness")
        if sticky == "default" and not (context.get("userId") or context.get("sessionId")):
            continue
        picked.append(param)
    return picked


STICKY_CASES = _sticky_cases()


def test_most_cases_also_run_through_evaluate() -> None:
    assert len(STICKY_CASES) >= 20


@pytest.mark.parametrize(("feature", "case"), STICKY_CASES)
def test_rollout_case_through_evaluate(feature: dict[str, Any], case: dict[str, Any]) -> None:
    strategy = feature["strategies"][0]
    params = strategy["parameters"]
    percentage = float(params.get("rollout", params.get("percentage", 0)))
    subject = _stickiness_value(strategy, case["context"])  # None: Bistro knows no subject
    decided = _through_evaluate(params.get("groupId", feature["name"]), percentage, subject)
    assert decided is case["expectedResult"]


def test_known_buckets() -> None:
    # Values from the specification's cases: 10 % on, and off, for the same group.
    assert rollout_bucket("Feature.flexibleRollout.10", "174") <= 10
    assert rollout_bucket("Feature.flexibleRollout.10", "499") > 10
