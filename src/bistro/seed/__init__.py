"""Deterministic, realistic demo data (``bistro seed`` and demo mode)."""

from bistro.seed.generate import SeedGenerator, SeedPlan, default_users
from bistro.seed.loader import SeedError, SeedReport, seed_database

__all__ = ["SeedError", "SeedGenerator", "SeedPlan", "SeedReport", "default_users", "seed_database"]
