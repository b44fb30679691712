"""L1 (bounded LRU with TTL and tag generations), keys and the RESP parser, without Redis."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from bistro.core.cache.keys import ALL, make_key, normal_tags
from bistro.core.cache.memory import Generations, MemoryCache
from bistro.core.cache.resp import RedisReplyError, RespParser, encode_command
from bistro.core.cache.stats import CacheStats
from bistro.core.clock import FakeClock

TAGS = normal_tags(["restaurant:1"])


def make_l1(max_entries: int = 3) -> tuple[MemoryCache, FakeClock, Generations]:
    clock, gens = FakeClock(), Generations()
    return MemoryCache(max_entries, clock, CacheStats(), gens), clock, gens


def test_lru_bound_evicts_least_recently_used() -> None:
    l1, _, gens = make_l1(3)
    for key in "abc":
        l1.set(key, key.encode(), 60, TAGS, gens.snapshot(TAGS))
    assert l1.get("a") == b"a"  # a is now the most recent
    l1.set("d", b"d", 60, TAGS, gens.snapshot(TAGS))
    assert len(l1) == 3
    assert l1.get("b") is None  # the least recently used went
    assert [l1.get(k) for k in "acd"] == [b"a", b"c", b"d"]
    assert l1.stats.l1_evictions == 1
    assert (l1.stats.l1_hits, l1.stats.l1_misses) == (4, 1)


def test_ttl_expiry_with_injected_clock() -> None:
    l1, clock, gens = make_l1()
    l1.set("k", b"v", 10, TAGS, gens.snapshot(TAGS))
    clock.advance(9.9)
    assert l1.get("k") == b"v"
    clock.advance(0.2)
    assert l1.get("k") is None
    assert len(l1) == 0


def test_bumping_a_tag_makes_its_entries_stale_and_only_those() -> None:
    l1, _, gens = make_l1(10)
    other = normal_tags(["restaurant:2"])
    l1.set("one", b"1", 60, TAGS, gens.snapshot(TAGS))
    l1.set("two", b"2", 60, other, gens.snapshot(other))
    gens.bump(["restaurant:1"])
    assert l1.get("one") is None
    assert l1.get("two") == b"2"
    assert l1.stats.l1_stale == 1
    gens.bump([ALL])
    assert l1.get("two") is None


def test_a_body_loaded_before_an_invalidation_is_never_stored() -> None:
    l1, _, gens = make_l1()
    before = gens.snapshot(TAGS)
    gens.bump(["restaurant:1"])  # a write committed while the body was loading
    l1.set("k", b"old", 60, TAGS, before)
    assert l1.get("k") is None


def test_zero_entries_disables_l1() -> None:
    l1, _, gens = make_l1(0)
    l1.set("k", b"v", 60, TAGS, gens.snapshot(TAGS))
    assert l1.get("k") is None


class Query(BaseModel):
    cuisine: list[str]
    limit: int = 20


def test_keys_come_from_argument_values_and_names() -> None:
    assert make_key("r", 1) != make_key("r", 2)
    assert make_key("r", 1) != make_key("s", 1)
    # Values swapping places between parameters must not collide (the by-name bug).
    assert make_key("l", limit=20, offset=40) != make_key("l", limit=40, offset=20)
    assert make_key("l", limit=20, offset=40) == make_key("l", offset=40, limit=20)
    assert make_key("l", 20) != make_key("l", limit=20)
    assert make_key("l", tags={"b", "a"}) == make_key("l", tags={"a", "b"})
    thai = Query(cuisine=["thai"])
    assert make_key("l", thai) == make_key("l", {"limit": 20, "cuisine": ["thai"]})
    assert make_key("l", thai) != make_key("l", Query(cuisine=["thai"], limit=21))
    assert make_key("l", None) != make_key("l", "None")
    with pytest.raises(ValueError):
        make_key("a:b", 1)


def test_resp_parser_handles_split_messages_and_errors() -> None:
    wire = (
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        + b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhe\r\nl\r\n"
        + b"-ERR nope\r\n"
    )
    parser = RespParser()
    replies = []
    for i in range(len(wire)):  # one byte at a time
        parser.feed(wire[i : i + 1])
        replies += parser.replies()
    assert replies[0] == [b"subscribe", b"ch", 1]
    assert replies[1] == [b"message", b"ch", b"he\r\nl"]
    assert isinstance(replies[2], RedisReplyError) and "nope" in str(replies[2])
    assert encode_command("GET", "k") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
