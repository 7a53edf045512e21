"""The `hatch-otel` command: small tools around the build hook.

`plan`, `diff` and `check` read a project exactly as a wheel build would (`load_project`,
`pipeline.run`), so what they show is what the build does.

Exit codes:
  0  success
  1  the project's configuration or sources have errors: one `hatch-otel: ` line per problem on
     stderr, never a traceback
  2  usage error (argparse)

Adding a subcommand: write `_run_NAME(args) -> int` and `_add_NAME(subparsers)` (which calls
`set_defaults(run=_run_NAME)`), then call `_add_NAME` in `build_parser`. Raise `HatchOtelError`
for problems the user can fix: `main` prints one line per problem and exits 1.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import io
import json
import os
import signal
import sys
import threading
import time
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hatch_otel import __version__, display
from hatch_otel.cache import Cache, default_directory
from hatch_otel.errors import ConfigError, HatchOtelError

if TYPE_CHECKING:
    from hatch_otel.pipeline import Outcome, WovenModule
    from hatch_otel.receiver import ReceivedSpan
    from hatch_otel.weave import WeaveSite

EXIT_CODES = """exit codes:
  0  success
  1  the project's configuration or sources have errors (one line each on stderr)
  2  usage error"""

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


# -- plan, diff, check ----------------------------------------------------------------------


def _project_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
) -> argparse.ArgumentParser:
    """A subcommand that reads the project at PATH; all three share the argument and epilog."""
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "path",
        metavar="PATH",
        nargs="?",
        default=".",
        type=Path,
        help="the project's directory, holding pyproject.toml (default: .)",
    )
    return parser


def _outcome(path: Path) -> Outcome:
    """What a wheel build of the project at `path` would weave (raises what the build would)."""
    from hatch_otel.pipeline import run
    from hatch_otel.project import load_project

    outcome = run(*load_project(path), cache=Cache(default_directory()))
    if outcome.errors:
        raise HatchOtelError(*outcome.errors)
    return outcome


def _add_plan(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = _project_parser(
        subparsers,
        "plan",
        "show what a wheel build would instrument, and why",
        "Show the instrumentation plan of the project at PATH: every library the hook library "
        "knows (applied or skipped, with the reason), every weave site, the sites `# otel: "
        "ignore` keeps unwoven and every warning. Nothing is written.",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (decisions, sites, ignored, warnings)",
    )
    parser.set_defaults(run=_run_plan)


def _run_plan(args: argparse.Namespace) -> int:
    outcome = _outcome(args.path)
    if args.json:
        print(json.dumps(_plan_document(outcome), indent=2))
    else:
        print("\n".join(display.plan(outcome, color=use_color(sys.stdout))))
    return 0


def _plan_document(outcome: Outcome) -> dict[str, Any]:
    """The plan for machines: keys spelled out here, so the document's shape is a promise."""

    def site(s: WeaveSite) -> dict[str, Any]:
        return {
            "path": s.path,
            "line": s.line,
            "join_point": s.join_point,
            "rule": s.rule_id,
            "target": s.target,
            "added_line": s.added_line,
        }

    return {
        "project": outcome.plan.project,
        "runtime_package": outcome.plan.runtime_package,
        "decisions": [
            {
                "library": d.library,
                "version": d.version,
                "status": "applied" if d.selected else "skipped",
                "reason": d.reason,
                "rules": list(d.rules),
            }
            for d in outcome.plan.decisions
        ],
        "sites": [site(s) for s in outcome.sites],
        "ignored": [site(s) for s in outcome.ignored],
        "warnings": list(outcome.warnings),
    }


def _add_diff(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = _project_parser(
        subparsers,
        "diff",
        "show the woven sources as a unified diff",
        "Print a unified diff (a/ and b/ are the paths inside the wheel) of every file a wheel "
        "build of the project at PATH would weave; print nothing when none would change.",
    )
    parser.set_defaults(run=_run_diff)


def _run_diff(args: argparse.Namespace) -> int:
    color = use_color(sys.stdout)
    for woven in _outcome(args.path).woven:
        for line in _unified_diff(woven):
            sys.stdout.write(_paint_diff(line) if color else line)
    return 0


def _unified_diff(woven: WovenModule) -> Iterator[str]:
    """A diff `patch -p1` applies: split on newlines only, a missing final newline marked."""
    encoding = tokenize.detect_encoding(io.BytesIO(woven.original).readline)[0]
    path = woven.module.file.distribution_path
    lines = difflib.unified_diff(
        _lines(woven.original.decode(encoding)),
        _lines(woven.woven.decode(encoding)),
        f"a/{path}",
        f"b/{path}",
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _lines(text: str) -> list[str]:
    """Lines split at newlines only: str.splitlines also splits at form feeds; patch does not."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _paint_diff(line: str) -> str:
    """Headers bold, removals red, additions green, hunk ranges cyan; the newline stays plain."""
    headers = line.startswith(("---", "+++"))
    code = "1" if headers else {"+": "32", "-": "31", "@": "36"}.get(line[:1])
    text = line.removesuffix("\n")
    return f"\033[{code}m{text}\033[0m\n" if code else line


def _add_check(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = _project_parser(
        subparsers,
        "check",
        "validate the otel table, its rules files and the sources",
        "Validate the otel hook table and the rules files it names, and parse every source "
        "of the project at PATH; report every problem at once, each with its TOML key or "
        "file:line:column. Prints `ok: N rules, M weave sites` when a build would succeed.",
    )
    parser.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from hatch_otel.config import Config, load, table_path
    from hatch_otel.pipeline import run
    from hatch_otel.project import read_project

    project, table = read_project(args.path)
    errors: list[str] = []
    try:
        config = load(table, project.root, table_path(project.root))
    except ConfigError as exc:
        errors += exc.problems
        config = Config()  # the sources can be checked all the same
    outcome = run(project, config, cache=Cache(default_directory()))
    errors += outcome.errors
    for line in [*errors, *(f"warning: {w}" for w in outcome.warnings)]:
        print(f"hatch-otel: {line}", file=sys.stderr)
    if errors:
        return 1
    print(f"ok: {len(outcome.plan.rules)} rules, {len(outcome.sites)} weave sites")
    return 0


# -- entry point -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand registers itself through its `_add_*`."""
    parser = argparse.ArgumentParser(
        prog="hatch-otel",
        description="Tools for hatch-otel, the Hatch build hook that weaves OpenTelemetry "
        "into wheels.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_plan(subparsers)
    _add_diff(subparsers)
    _add_check(subparsers)
    _add_receive(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code is 0 ok, 1 failure, 2 usage error."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except HatchOtelError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
