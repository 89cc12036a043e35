"""Metrics: the OpenTelemetry instruments built from the catalog (meters) and the pool gauges
read at scrape time (gauges)."""
