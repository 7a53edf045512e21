"""The run-time support that woven code calls.

These modules are copied verbatim into every woven wheel as `<package>/_otel/`, so they import
only each other (relatively), the standard library and, lazily, the OpenTelemetry packages. The
bundle stage writes that copy's `__init__.py` (the plan's rule table plus the bootstrap); this
one only makes the modules importable from hatch-otel's own tests.
"""
