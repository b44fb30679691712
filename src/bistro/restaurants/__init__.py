"""Restaurants: the v4 repository, service and routes."""
