"""The v3 API, mounted under ``/api/v3`` by the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from bistro.legacy.routes_restaurants import router as restaurants
from bistro.legacy.routes_reviews import router as reviews
from bistro.legacy.routes_users import router as users

router = APIRouter()
router.include_router(restaurants)
router.include_router(reviews)
router.include_router(users)
