"""Start-up floor: the plain greeter after configuring the SDK and the exporters by hand."""

from __future__ import annotations

import sdk_by_hand

sdk_by_hand.configure()

from greeter.__main__ import main  # noqa: E402  (the SDK first, as a hand-instrumented app does)

main()
