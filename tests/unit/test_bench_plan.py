"""Which server processes each benchmark round runs on (benchmarks/bench_service.py)."""

from __future__ import annotations

from benchmarks.bench_service import (
    SCENARIOS,
    SERVERS,
    TWIN,
    Scenario,
    instances,
    servers_needed,
)


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def test_together_on_the_same_settings_swaps_two_instances_every_round() -> None:
    stable = scenario("stable_path")
    assert stable.together and stable.subject.server == stable.baseline.server
    twin = stable.subject.server + TWIN
    assert instances(stable, 0) == (stable.subject.server, twin)
    assert instances(stable, 1) == (twin, stable.subject.server)
    assert servers_needed(stable) == {stable.subject.server, twin}


def test_together_on_different_settings_keeps_each_side_on_its_own_server() -> None:
    metrics = scenario("metrics_overhead")
    assert metrics.together
    for round_no in range(4):
        assert instances(metrics, round_no) == ("cached", "cached_no_metrics")


def test_alternating_scenarios_need_no_twin_and_every_server_has_settings() -> None:
    for s in SCENARIOS:
        if not s.together:
            assert servers_needed(s) == {s.subject.server, s.baseline.server}
        for name in servers_needed(s):
            assert name.removesuffix(TWIN) in SERVERS
