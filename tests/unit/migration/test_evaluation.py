"""evaluate(flag, subject): precedence, reasons, stickiness and monotonic rollout."""

from __future__ import annotations

import pytest

from bistro.migration.env import EnvPinError, EnvPins, load_env_pins
from bistro.migration.evaluation import FlagState, Snapshot, evaluate, rollout_bucket
from bistro.migration.flags import (
    Flag,
    InvalidFlagValue,
    Stage,
    Version,
    parse_percentage,
    parse_stage,
)

R = Flag.RESTAURANTS


def snap(
    stage: Stage,
    pct: float = 0.0,
    overrides: dict[str, Version] | None = None,
    env: dict[str, str] | None = None,
) -> Snapshot:
    state = FlagState(R, stage, pct, overrides=overrides or {})
    return Snapshot({R: state}, load_env_pins(env or {}), version=1)


def test_bucket_formula() -> None:
    import mmh3

    assert rollout_bucket("api_v4_restaurants", "u1") == (
        mmh3.hash("api_v4_restaurants:u1", 0, signed=False) % 100 + 1
    )
    assert all(1 <= rollout_bucket("f", str(i)) <= 100 for i in range(2000))


def test_partial_reason_names_bucket_and_percentage() -> None:
    s = snap(Stage.PARTIAL, 40)
    for i in range(200):
        subject = f"client-{i}"
        bucket = rollout_bucket(R.value, subject)
        d = evaluate(s, R, subject)
        if bucket <= 40:
            assert (d.version, d.reason) == (Version.V4, f"bucket {bucket} <= 40")
        else:
            assert (d.version, d.reason) == (Version.V3, f"bucket {bucket} > 40")


def test_raising_the_percentage_never_moves_a_subject_back_to_v3() -> None:
    subjects = [f"s{i}" for i in range(3000)]
    previous = {s: False for s in subjects}
    for pct in (0, 5, 12.5, 30, 50, 75, 99, 100):
        at = snap(Stage.PARTIAL, pct)
        current = {s: evaluate(at, R, s).v4 for s in subjects}
        assert all(current[s] for s in subjects if previous[s])
        share = sum(current.values()) / len(subjects)
        assert abs(share - pct / 100) < 0.03
        previous = current


def test_stages() -> None:
    assert evaluate(snap(Stage.DISABLED), R, "a").reason == "stage disabled"
    assert not evaluate(snap(Stage.DISABLED), R, "a").v4
    assert not evaluate(snap(Stage.TESTING), R, "a").v4
    assert evaluate(snap(Stage.FULL), R, "a").v4
    assert evaluate(snap(Stage.COMPLETE), R, "a").reason == "stage complete"


def test_overrides_pin_testers_and_opt_outs() -> None:
    overrides = {"tester": Version.V4, "vip": Version.V3}
    testing = snap(Stage.TESTING, overrides=overrides)
    assert evaluate(testing, R, "tester") == evaluate(testing, R, "tester")
    assert evaluate(testing, R, "tester").reason == "override"
    assert evaluate(testing, R, "tester").v4
    assert not evaluate(testing, R, "someone").v4
    full = snap(Stage.FULL, overrides=overrides)
    assert not evaluate(full, R, "vip").v4
    # disabled means everyone on v3 and complete everyone on v4: overrides do not apply.
    assert not evaluate(snap(Stage.DISABLED, overrides=overrides), R, "tester").v4
    assert evaluate(snap(Stage.COMPLETE, overrides=overrides), R, "vip").v4


def test_environment_pins_take_precedence() -> None:
    overrides = {"tester": Version.V4}
    off = snap(Stage.FULL, overrides=overrides, env={"API_V4_RESTAURANTS": "false"})
    assert evaluate(off, R, "tester").reason == "env_pin"
    assert not evaluate(off, R, "tester").v4
    on_for_one = snap(
        Stage.DISABLED, env={"API_V4_RESTAURANTS": "false", "API_V4_RESTAURANTS_USER_42": "true"}
    )
    assert evaluate(on_for_one, R, "42").v4 and evaluate(on_for_one, R, "42").reason == "env_pin"
    assert not evaluate(on_for_one, R, "43").v4
    rollout = snap(Stage.DISABLED, env={"API_V4_RESTAURANTS_ROLLOUT": "100"})
    assert evaluate(rollout, R, "x").v4
    assert evaluate(rollout, R, "x").reason.startswith("bucket ")


def test_no_subject_at_partial_is_v3() -> None:
    assert not evaluate(snap(Stage.PARTIAL, 99), R, None).v4


def test_subject_free_flags_need_no_subject() -> None:
    assert snap(Stage.FULL).compiled[R].subject_free
    assert not snap(Stage.PARTIAL, 10).compiled[R].subject_free
    assert not snap(Stage.FULL, overrides={"a": Version.V3}).compiled[R].subject_free


def test_snapshot_answers_subject_free_questions_once() -> None:
    # Defaults: every sub-feature on for everyone; restaurants disabled for everyone.
    default = snap(Stage.DISABLED)
    assert default.sub_features == (True, True, True)  # cache, validation, error handling
    assert default.subject_free_routing[R]
    cache_off = Snapshot(
        {Flag.CACHE: FlagState(Flag.CACHE, Stage.DISABLED, 0.0)}, load_env_pins({}), version=1
    )
    assert cache_off.sub_features == (False, True, True)
    # A partial rollout or an override needs the subject, for the group or for everyone.
    assert not snap(Stage.PARTIAL, 30).subject_free_routing[R]
    assert snap(Stage.PARTIAL, 30).subject_free_routing[Flag.REVIEWS]
    testers = Snapshot(
        {
            Flag.ERROR_HANDLING: FlagState(
                Flag.ERROR_HANDLING, Stage.FULL, 100.0, overrides={"t": Version.V3}
            )
        },
        load_env_pins({}),
        version=1,
    )
    assert testers.sub_features is None
    assert not testers.subject_free_routing[Flag.REVIEWS]


def test_missing_flags_take_their_defaults() -> None:
    s = Snapshot({}, EnvPins(), version=0)
    assert evaluate(s, Flag.ENABLED, "a").v4
    assert evaluate(s, Flag.CACHE, "a").v4
    assert not evaluate(s, Flag.REVIEWS, "a").v4


@pytest.mark.parametrize("value", ["150", "-1", "nan", "inf", "ten", "12.345"])
def test_bad_percentages_are_rejected(value: str) -> None:
    with pytest.raises(InvalidFlagValue):
        parse_percentage(value)


def test_good_percentages() -> None:
    assert parse_percentage("12.5") == 12.5
    assert parse_percentage(0) == 0.0
    assert parse_percentage("100") == 100.0


def test_unknown_stage_is_rejected_with_the_choices() -> None:
    with pytest.raises(InvalidFlagValue, match="disabled, testing, partial, full, complete"):
        parse_stage("halfway")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"API_V4_RESTAURANTS_ROLLOUT": "150"}, "API_V4_RESTAURANTS_ROLLOUT"),
        ({"API_V4_REVIEWS": "maybe"}, "API_V4_REVIEWS"),
        ({"API_V4_USERS_USER_7": "yes please"}, "API_V4_USERS_USER_7"),
        ({"API_V4_BOOKINGS": "true"}, "API_V4_BOOKINGS"),
        ({"API_V4_CACHE_LEVEL": "2"}, "API_V4_CACHE_LEVEL"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(EnvPinError, match=named):
        load_env_pins(env)


def test_environment_parsing() -> None:
    pins = load_env_pins(
        {
            "API_V4_ERROR_HANDLING": "off",
            "API_V4_USERS_ROLLOUT": "12.5",
            "API_V4_USERS_USER_abc": "1",
            "PATH": "/bin",
        }
    )
    assert pins.for_flag(Flag.ERROR_HANDLING).enabled is False
    assert pins.for_flag(Flag.USERS).rollout == 12.5
    assert pins.for_flag(Flag.USERS).users == {"abc": True}
    assert pins.for_flag(Flag.REVIEWS).empty
