"""Alerts: the webhook receiver Alertmanager routes to (sink) and the uvicorn thread it runs on."""
