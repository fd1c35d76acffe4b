"""Alerts: routing items to channels, the outbox and its delivery."""
