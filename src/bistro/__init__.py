"""Bistro: a restaurant-review API and the control plane that migrates it from v3 to v4."""

__version__ = "0.1.0"
