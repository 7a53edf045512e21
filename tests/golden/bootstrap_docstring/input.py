"""A package.

Its docstring spans lines.
"""
import os

VERSION = os.environ.get("VERSION", "1")
