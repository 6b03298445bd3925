"""Monitoring: data drift, live performance, service health, policies and alerts, and the data check."""
