"""Grafana dashboards and Prometheus alert rules generated from the telemetry catalog, plus the
Prometheus/Alertmanager/Grafana provisioning used by `compose.yaml`."""
