"""The `hatch-otel` command: small tools around the build hook.

Adding a subcommand: write `_run_NAME(args) -> int` and `_add_NAME(subparsers)` (which calls
`set_defaults(run=_run_NAME)`), then call `_add_NAME` in `build_parser`. Raise `HatchOtelError`
for problems the user can fix: `main` prints it as one line and exits 1.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from hatch_otel import __version__
from hatch_otel.errors import HatchOtelError

if TYPE_CHECKING:
    from hatch_otel.receiver import ReceivedSpan


def use_color(stream: TextIO) -> bool:
    """ANSI colour only for a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _port(text: str) -> int:
    """A TCP port number, checked here so a bad one is a usage error (exit 2), not a crash."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535)")
    return int(text)


# -- receive ---------------------------------------------------------------------------------


def _add_receive(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "receive",
        help="run a local OTLP receiver and print the traces it gets",
        description=(
            "Run a local OTLP receiver (HTTP: POST /v1/traces, /v1/metrics, /v1/logs; protobuf "
            "or JSON) and print every batch of spans as a tree, until Ctrl-C. Point a woven "
            "program at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=_port, default=4318, help="OTLP/HTTP port (%(default)s; 0 picks a free one)"
    )
    parser.add_argument(
        "--jsonl", metavar="FILE", help="also append every span to FILE, one JSON object per line"
    )
    parser.add_argument(
        "--grpc-port",
        type=_port,
        metavar="PORT",
        help="also accept OTLP/gRPC on PORT (4317 is the standard one; needs grpcio)",
    )
    parser.add_argument("--quiet", action="store_true", help="print no trees (useful with --jsonl)")
    parser.set_defaults(run=_run_receive)


def _listen_error(host: str, port: int, exc: OSError) -> HatchOtelError:
    reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
    return HatchOtelError(f"cannot listen on {host}:{port}: {reason}")


def _run_receive(args: argparse.Namespace) -> int:
    try:
        from hatch_otel import receiver
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith(("opentelemetry", "google")):
            raise
        raise HatchOtelError(
            "`receive` needs opentelemetry-proto: pip install 'hatch-otel[receive]'"
        ) from None
    if args.grpc_port is not None and not receiver.grpc_available():
        raise HatchOtelError("--grpc-port needs grpcio: pip install grpcio")

    if args.jsonl:
        try:  # fail now, not on the first span
            open(args.jsonl, "a", encoding="utf-8").close()
        except OSError as exc:
            raise HatchOtelError(f"cannot write {args.jsonl}: {exc.strerror}") from None
    color = use_color(sys.stdout)
    print_lock = threading.Lock()

    def print_batch(spans: list[ReceivedSpan]) -> None:
        text = receiver.format_trace_tree(spans, color=color)
        with print_lock:
            print(text, flush=True)

    http = receiver.OtlpReceiver(
        host=args.host,
        port=args.port,
        jsonl_path=args.jsonl,
        on_spans=None if args.quiet else print_batch,
    )
    grpc = None
    # A plain flag: taking a lock (Event.set) inside a signal handler can deadlock.
    stop_signals: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, _frame: stop_signals.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            http.start()
        except OSError as exc:
            raise _listen_error(args.host, args.port, exc) from None
        if args.grpc_port is not None:
            # grpc would log its own bind failure; ours is the one line the user needs.
            os.environ.setdefault("GRPC_VERBOSITY", "NONE")
            grpc = receiver.OtlpGrpcReceiver(http, host=args.host, port=args.grpc_port)
            try:
                grpc.start()
            except OSError as exc:
                raise _listen_error(args.host, args.grpc_port, exc) from None
        if not args.quiet:
            extra = f" and OTLP/gRPC on {grpc.endpoint}" if grpc is not None else ""
            print(
                f"hatch-otel: receiving OTLP/HTTP on {http.endpoint}{extra}; Ctrl-C to stop",
                file=sys.stderr,
                flush=True,
            )
        while not stop_signals:
            time.sleep(0.1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if grpc is not None:
            grpc.stop()
        http.stop()
    if not args.quiet:
        print(
            f"hatch-otel: received {len(http.spans)} spans, {len(http.metrics)} metrics, "
            f"{len(http.log_records)} log records in {http.requests} requests",
            file=sys.stderr,
        )
    return 0


# -- entry point -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand registers itself through its `_add_*`."""
    parser = argparse.ArgumentParser(
        prog="hatch-otel",
        description="Tools for hatch-otel, the Hatch build hook that weaves OpenTelemetry "
        "into wheels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_receive(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code is 0 ok, 1 failure, 2 usage error."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except HatchOtelError as exc:
        print(f"hatch-otel: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
