"""The legacy v3 API: routes over ``DatabaseManagerV3`` (plain SQL), no cache, v3 error bodies.

It is the baseline the v3 -> v4 migration is judged against, so it is kept correct and indexed;
it shares the schema (and the invariants on it) with v4, not v4's code.
"""
