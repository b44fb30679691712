"""Monitoring: per-version request metrics, health, alerts and the live dashboard."""
