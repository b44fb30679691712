"""The comparison core: paths, types, floats, order, noise and the known differences."""

from __future__ import annotations

from typing import Any

import pytest

from bistro.parity.compare import (
    MATCH,
    MISMATCH,
    MISSING,
    NOISE,
    STATUS_PATH,
    Answer,
    compare,
    covered,
    pattern,
)
from bistro.parity.known import KNOWN_DIFFERENCES, known_difference
from bistro.parity.noise import NoiseModel, endpoint_of, group_of


def ok(data: Any, **meta: Any) -> Answer:
    return Answer(200, {"success": True, "message": "OK", "data": data, "meta": meta})


def paths(v3: Answer, v4: Answer, **kw: Any) -> list[str]:
    return [d.path for d in compare(v3, v4, **kw).differences]


ITEMS = [{"id": 1, "name": "A", "rating_avg": 4.25}, {"id": 2, "name": "B", "rating_avg": 3.5}]


def test_equal_answers_match_and_v4_only_fields_are_not_compared() -> None:
    v4_items = [item | {"rating_score": 0.5} for item in ITEMS]
    result = compare(ok(ITEMS, total=2), ok(v4_items, total=2, cursor="x"))
    assert result.verdict == MATCH and result.matched
    assert result.differences == () and result.known == ()


def test_key_order_does_not_matter() -> None:
    assert compare(ok({"a": 1, "b": 2}), ok({"b": 2, "a": 1})).verdict == MATCH


def test_a_dropped_last_item_is_reported_at_its_index() -> None:
    result = compare(ok(ITEMS, total=2), ok(ITEMS[:1], total=2))
    assert result.verdict == MISMATCH
    (diff,) = result.differences
    assert (diff.path, diff.kind, diff.v3, diff.v4) == ("$.data[1]", "length", ITEMS[1], MISSING)
    assert diff.as_dict()["v4_missing"] is True


def test_a_rounding_change_is_a_mismatch_but_float_noise_is_not() -> None:
    rounded = [ITEMS[0] | {"rating_avg": 4.3}, ITEMS[1]]
    assert paths(ok(ITEMS), ok(rounded)) == ["$.data[0].rating_avg"]
    close = [ITEMS[0] | {"rating_avg": 4.25 * (1 + 1e-12)}, ITEMS[1]]
    assert paths(ok(ITEMS), ok(close)) == []
    assert paths(ok(0.1 + 0.2), ok(0.3)) == []
    assert paths(ok(0.0), ok(1e-300)) == ["$.data"]


def test_types_must_agree() -> None:
    assert [d.kind for d in compare(ok(4), ok(4.0)).differences] == ["type"]
    assert [d.kind for d in compare(ok(True), ok(1)).differences] == ["type"]
    assert [d.kind for d in compare(ok("1"), ok(1)).differences] == ["type"]
    assert [d.kind for d in compare(ok(None), ok(0)).differences] == ["type"]
    assert [d.kind for d in compare(ok({"a": 1}), ok([1])).differences] == ["type"]


def test_a_renamed_field_is_missing_at_its_path() -> None:
    renamed = [{"id": i["id"], "name": i["name"], "rating": i["rating_avg"]} for i in ITEMS]
    result = compare(ok(ITEMS), ok(renamed))
    assert [(d.path, d.kind) for d in result.differences] == [
        ("$.data[0].rating_avg", "missing"),
        ("$.data[1].rating_avg", "missing"),
    ]


def test_order_matters_unless_the_list_is_unordered() -> None:
    flipped = ok(ITEMS[::-1])
    assert paths(ok(ITEMS), flipped) == [
        "$.data[0].id",
        "$.data[0].name",
        "$.data[0].rating_avg",
        "$.data[1].id",
        "$.data[1].name",
        "$.data[1].rating_avg",
    ]
    assert paths(ok(ITEMS), flipped, unordered={"$.data"}) == []
    # Unordered still pairs by id and compares each pair, and counts items.
    changed = ok([ITEMS[1], ITEMS[0] | {"name": "Z"}])
    assert paths(ok(ITEMS), changed, unordered={"$.data"}) == ["$.data[0].name"]
    assert paths(ok(ITEMS), ok([*ITEMS, {"id": 3}]), unordered={"$.data"}) == ["$.data"]
    assert paths(ok([1, 2, 2]), ok([2, 1, 2]), unordered={"$.data"}) == []
    assert paths(ok([1, 2, 2]), ok([2, 1, 1]), unordered={"$.data"}) == ["$.data[2]", "$.data"]


def test_quoted_keys_and_patterns() -> None:
    v3 = ok({"rating_histogram": {"1": 2, "5": 3}, "by": {"Street Food": [1]}})
    v4 = ok({"rating_histogram": {"1": 2, "5": 4}, "by": {"Street Food": [2]}})
    assert paths(v3, v4) == ['$.data.rating_histogram["5"]', '$.data.by["Street Food"][0]']
    assert pattern('$.data.by["Street Food"][0]') == '$.data.by["Street Food"][*]'
    assert pattern('$.data["[1]"]') == '$.data["[1]"]'
    assert covered("$.data[3].hours.mon[0]", {"$.data[*].hours"})
    assert covered('$.data["a.b"].c', {'$.data["a.b"]'})
    assert not covered('$.data["a.b"].c', {"$.data.a"})
    assert not covered("$.data[3].hours_x", {"$.data[*].hours"})


def test_status_difference() -> None:
    result = compare(ok([]), Answer(500, {"success": False}))
    assert [(d.path, d.v3, d.v4) for d in result.differences] == [(STATUS_PATH, 200, 500)]


def test_noise_paths_are_reported_apart_and_presence_is_still_required() -> None:
    v3 = ok({"id": 1, "is_open_now": True, "generated_at": "12:00:01"})
    v4 = ok({"id": 1, "is_open_now": False, "generated_at": "12:00:02"})
    noise = {"$.data.is_open_now", "$.data.generated_at"}
    result = compare(v3, v4, noise=noise)
    assert result.verdict == NOISE and result.matched
    assert sorted(d.path for d in result.noise) == ["$.data.generated_at", "$.data.is_open_now"]
    missing = compare(v3, ok({"id": 1, "is_open_now": True}), noise=noise)
    assert missing.verdict == MISMATCH
    assert [d.path for d in missing.differences] == ["$.data.generated_at"]
    # ignore: presence only, not reported.
    assert compare(v3, v4, ignore=noise).verdict == MATCH


def test_bad_input_is_compared_as_both_refused() -> None:
    v3 = Answer(400, {"success": False, "error": "limit must be 1-50", "status_code": 400})
    v4 = Answer(
        422,
        {"success": False, "error": "Invalid", "status_code": 422, "code": "X", "details": {}},
    )
    result = compare(v3, v4)
    assert (result.verdict, result.known) == (MATCH, ("bad_input_refused",))
    # A 422 without an error envelope is still reported, by the rule.
    broken = compare(v3, Answer(422, {"success": True, "status_code": 422}))
    assert broken.verdict == MISMATCH
    assert [(d.path, d.kind) for d in broken.differences] == [
        ("$.success", "rule"),
        ("$.error", "rule"),
    ]
    # v3 refusing what v4 accepts (or the other way round) is a mismatch.
    assert compare(v3, ok([])).verdict == MISMATCH
    assert compare(ok([]), v4).verdict == MISMATCH


def test_v3_error_body_is_a_subset_of_v4s() -> None:
    v3 = Answer(404, {"success": False, "error": "Restaurant 9 not found", "status_code": 404})
    v4 = Answer(404, v3.body | {"code": "RESTAURANT_NOT_FOUND", "details": {}})
    assert compare(v3, v4).known == ("v3_error_body",)
    assert compare(v3, v4).verdict == MATCH
    assert compare(v3, Answer(404, v3.body | {"code": 7})).verdict == MISMATCH
    other = Answer(404, v4.body | {"error": "Not found"})
    assert [d.path for d in compare(v3, other).differences] == ["$.error"]


def test_an_estimated_total_is_checked_by_its_own_rule() -> None:
    v3 = ok(ITEMS, total=1234, limit=2, offset=10)
    estimate = ok(ITEMS, total=1200, limit=2, offset=10, total_is_estimate=True)
    result = compare(v3, estimate)
    assert (result.verdict, result.known) == (MATCH, ("estimated_total",))
    too_small = ok(ITEMS, total=11, limit=2, offset=10, total_is_estimate=True)
    assert [d.path for d in compare(v3, too_small).differences] == ["$.meta.total"]
    # Without the flag the total is exact.
    assert paths(v3, ok(ITEMS, total=1200, limit=2, offset=10)) == ["$.meta.total"]


def test_known_differences_are_named_and_explained() -> None:
    names = [rule.name for rule in KNOWN_DIFFERENCES]
    assert len(names) == len(set(names))
    assert all(rule.reason for rule in KNOWN_DIFFERENCES)
    assert known_difference("bad_input_refused").handles == ("$",)
    with pytest.raises(KeyError):
        known_difference("nope")


def test_noise_is_learned_from_two_v3_answers() -> None:
    model = NoiseModel(everywhere=frozenset({"$.meta.request_id"}))
    first = ok([{"id": 1, "is_open_now": True}, {"id": 2, "is_open_now": True}], at="1")
    second = ok([{"id": 1, "is_open_now": True}, {"id": 2, "is_open_now": False}], at="2")
    endpoint = endpoint_of("GET", "/api/v3/restaurants?open_now=true")
    assert endpoint == "GET /restaurants"
    assert model.learn(endpoint, first, second) == {"$.data[*].is_open_now", "$.meta.at"}
    assert model.learn(endpoint, first, first) == set()
    assert model.paths(endpoint) >= {"$.data[*].is_open_now", "$.meta.request_id"}
    assert model.paths("GET /statistics") == {"$.meta.request_id"}
    assert (model.pairs[endpoint], model.noisy_pairs[endpoint]) == (2, 1)
    # A field only one v3 answer has is noise too (learned both ways).
    assert model.learn("GET /x", ok({"a": 1}), ok({"a": 1, "b": 2})) == {"$.data.b"}
    assert model.learn("GET /y", ok({}), Answer(500, None)) == {"$"}
    assert model.as_dict()["GET /restaurants"] == ["$.data[*].is_open_now", "$.meta.at"]


def test_endpoint_names() -> None:
    assert endpoint_of("get", "/api/v4/restaurants/12") == "GET /restaurants/{id}"
    assert endpoint_of("GET", "/api/reviews/3?x=1") == "GET /reviews/{id}"
    assert endpoint_of("GET", "/api/v3/admin/users/7") == "GET /admin/users/{id}"
    assert group_of("GET /admin/users/{id}") == "users"
    assert group_of("GET /restaurants/search") == "restaurants"
    assert group_of("GET /healthz") == "other"
