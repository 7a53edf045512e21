"""A package.

Its docstring spans lines.
"""; import shop._otel as _hatch_otel
import os

VERSION = os.environ.get("VERSION", "1")
