"""Parity: v3 and v4 compared answer for answer (offline replay and shadow mode)."""
