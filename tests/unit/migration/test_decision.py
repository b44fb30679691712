"""The stable path's decisions, pure: snapshot + subject -> version, reason, switches."""

from __future__ import annotations

from bistro.migration import decision
from bistro.migration.env import load_env_pins
from bistro.migration.evaluation import FlagState, Snapshot, rollout_bucket
from bistro.migration.flags import Flag, Stage, Version


def snapshot(*states: FlagState) -> Snapshot:
    return Snapshot({s.flag: s for s in states}, load_env_pins({}), version=1)


def test_endpoint_groups_of_stable_paths() -> None:
    assert decision.endpoint_group("restaurants/12") == "restaurants"
    assert decision.endpoint_group("auth/login") == "users"
    assert decision.endpoint_group("users/me") == "users"
    assert decision.endpoint_group("admin/users/3") == "users"
    assert decision.endpoint_group("admin/other") is None
    assert decision.endpoint_group("statistics") == "statistics"
    assert decision.endpoint_group("nothing/here") is None


def test_the_master_flag_and_the_group_flag_must_both_say_v4() -> None:
    group_on = FlagState(Flag.REVIEWS, Stage.FULL, 100.0)
    master_off = snapshot(FlagState(Flag.ENABLED, Stage.DISABLED, 0.0), group_on)
    assert decision.route(master_off, "reviews", "anyone")[0] == "v3"
    both = snapshot(FlagState(Flag.ENABLED, Stage.FULL, 100.0), group_on)
    version, reason = decision.route(both, "reviews", "anyone")
    assert version == "v4" and "full" in reason
    assert decision.route(both, "restaurants", "anyone")[0] == "v3"  # its own flag is off
    assert not decision.needs_subject(both, "reviews")


def test_a_partial_group_decides_by_the_subjects_bucket() -> None:
    snap = snapshot(
        FlagState(Flag.ENABLED, Stage.FULL, 100.0),
        FlagState(Flag.RESTAURANTS, Stage.PARTIAL, 40.0),
    )
    assert decision.needs_subject(snap, "restaurants")
    for subject in ("a", "b", "c", "d", "e", "f"):
        expected = "v4" if rollout_bucket(Flag.RESTAURANTS.value, subject) <= 40 else "v3"
        assert decision.route(snap, "restaurants", subject)[0] == expected


def test_sub_features_for_everyone_or_per_subject() -> None:
    assert decision.sub_features(snapshot(), None) is decision.ALL_SUB_FEATURES_ON
    per_subject = snapshot(
        FlagState(Flag.CACHE, Stage.FULL, 100.0, overrides={"phone-9": Version.V3})
    )
    assert decision.sub_features(per_subject, "phone-9") == (False, True, True)
    assert decision.sub_features(per_subject, "phone-8") == (True, True, True)
