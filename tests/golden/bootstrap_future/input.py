"""Docstring."""

from __future__ import annotations  # keep this comment
from __future__ import division


def main() -> None:
    print("hi")
