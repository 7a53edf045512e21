"""greeter: a small Flask service, the demo app of hatch-otel."""

__version__ = "1.0.0"
