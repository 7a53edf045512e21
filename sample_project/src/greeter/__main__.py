"""Run the greeter: `greeter` or `python -m greeter` (GREETER_HOST, GREETER_PORT)."""

from __future__ import annotations

import os

from greeter.app import app


def main() -> None:
    host = os.environ.get("GREETER_HOST", "127.0.0.1")
    port = int(os.environ.get("GREETER_PORT", "8000"))
    app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()
