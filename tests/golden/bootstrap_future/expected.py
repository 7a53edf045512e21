"""Docstring."""

from __future__ import annotations  # keep this comment
from __future__ import division; import shop._otel as _hatch_otel


def main() -> None:
    print("hi")
