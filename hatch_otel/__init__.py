"""hatch-otel: a Hatch build hook that weaves OpenTelemetry into the wheels you build."""

__version__ = "0.1.0"
