"""Shadow mode's pure parts: redaction, settings, the cache tags a request reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bistro.core.cache.keys import ALL
from bistro.parity.redact import REDACTED, redact_difference, redact_query
from bistro.parity.settings import ParitySettings
from bistro.parity.shadow import ShadowStats, cache_tags


def test_personal_values_are_redacted_wherever_they_are() -> None:
    diff = {"path": "$.data.email", "kind": "value", "v3": "a@x.org", "v4": "b@x.org"}
    assert redact_difference(diff) | {"path": "$.data.email"} == diff | {
        "v3": REDACTED,
        "v4": REDACTED,
    }
    whole = {
        "path": "$.data[3]",
        "kind": "length",
        "v3": {"id": 4, "text": "Loved it", "user": {"display_name": "Ana", "id": 2}},
        "v4": None,
    }
    assert redact_difference(whole)["v3"] == {
        "id": 4,
        "text": REDACTED,
        "user": {"display_name": REDACTED, "id": 2},
    }
    rating = {"path": "$.data.rating_avg", "kind": "value", "v3": 4.25, "v4": 4.3}
    assert redact_difference(rating) == rating
    quoted = {"path": '$.data["text"]', "kind": "value", "v3": "x", "v4": "y"}
    assert redact_difference(quoted)["v3"] == REDACTED
    assert redact_query("q=ana%40x.org&limit=5") == "q=%3Credacted%3E&limit=5"


def test_the_ignore_list_is_json_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BISTRO_PARITY_IGNORE", "$.meta.generated_at, $.data[*].is_open_now")
    assert ParitySettings().ignore == ("$.meta.generated_at", "$.data[*].is_open_now")
    monkeypatch.setenv("BISTRO_PARITY_IGNORE", "meta.generated_at")
    with pytest.raises(ValidationError, match="JSON path"):
        ParitySettings()
    monkeypatch.delenv("BISTRO_PARITY_IGNORE")
    monkeypatch.setenv("BISTRO_PARITY_SHADOW_QUEUE", "0")
    with pytest.raises(ValidationError):
        ParitySettings()


def test_the_tags_a_write_would_move() -> None:
    assert cache_tags("restaurants/12") == (ALL, "restaurant:12")
    assert cache_tags("restaurants/search") == (ALL, "restaurants")
    assert cache_tags("restaurants") == (ALL, "restaurants")
    assert cache_tags("reviews/3") == (ALL, "review:3", "review-details")
    assert cache_tags("reviews") == (ALL, "reviews")
    assert cache_tags("statistics") == (ALL, "statistics")
    assert cache_tags("users/me") == (ALL,)


def test_counters_drain_and_a_failed_flush_puts_them_back() -> None:
    seen: list[tuple[str, str, int]] = []
    stats = ShadowStats(on_count=lambda *a: seen.append(a))
    stats.add("reviews", "compared")
    stats.add("reviews", "matched")
    pending, _ = stats.drain()
    stats.add("reviews", "dropped")
    stats.restore(pending, [])
    assert stats.pending["reviews"]["compared"] == 1
    assert stats.pending["reviews"]["dropped"] == 1
    assert stats.total["reviews"]["matched"] == 1
    assert seen == [
        ("reviews", "compared", 1),
        ("reviews", "matched", 1),
        ("reviews", "dropped", 1),
    ]
