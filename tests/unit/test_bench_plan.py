"""Which server processes each benchmark round runs on (benchmarks/bench_service.py)."""

from __future__ import annotations

from benchmarks.bench_service import (
    SCENARIOS,
    SERVERS,
    Scenario,
    instances,
    servers_needed,
    settings_of,
)


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def test_together_on_the_same_settings_swaps_two_instances_every_round() -> None:
    stable = scenario("stable_path")
    assert stable.together and stable.subject.server == stable.baseline.server
    one, two = "stable_path@stable_path", "stable_path@stable_path#2"
    assert instances(stable, 0) == (one, two)
    assert instances(stable, 1) == (two, one)
    assert servers_needed(stable) == {one, two}
    assert settings_of(one) == settings_of(two) == SERVERS["stable_path"]


def test_together_on_different_settings_keeps_each_side_on_its_own_fresh_server() -> None:
    metrics = scenario("metrics_overhead")
    assert metrics.together
    for round_no in range(4):
        assert instances(metrics, round_no) == (
            "cached@metrics_overhead",
            "cached_no_metrics@metrics_overhead",
        )
    assert settings_of("cached_no_metrics@metrics_overhead") == SERVERS["cached_no_metrics"]


def test_only_alternating_scenarios_share_servers() -> None:
    together = [n for s in SCENARIOS if s.together for n in servers_needed(s)]
    shared = [n for s in SCENARIOS if not s.together for n in servers_needed(s)]
    assert len(together) == len(set(together))  # no two together scenarios share one
    assert not set(together) & set(shared)
    for name in [*together, *shared]:
        assert name.split("@", 1)[0] in SERVERS, name
