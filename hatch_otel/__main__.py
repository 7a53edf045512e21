"""`python -m hatch_otel` runs the `hatch-otel` command, for environments without the script."""

from hatch_otel.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
