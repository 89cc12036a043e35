"""poolscope telemetry: metric/event catalog, OpenTelemetry wiring, structlog logs, log parsing."""
