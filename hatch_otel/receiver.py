"""A small, real OTLP receiver: woven wheels are checked against what they actually export.

Used by the test suite, the demo and `hatch-otel receive`. OTLP/HTTP (protobuf and JSON, gzip and
deflate) is always there; OTLP/gRPC is offered when `grpcio` is installed.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import errno
import gzip
import importlib
import importlib.util
import json
import re
import socket
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

Signal = Literal["traces", "metrics", "logs"]

_REQUESTS: dict[Signal, Any] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
_RESPONSES: dict[Signal, Any] = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}
_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}

# Proto enum numbers -> names; UNSPECIFIED (and unknown) kinds may be read as INTERNAL.
_KINDS = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUSES = {1: "OK", 2: "ERROR"}
_HEADER_HISTORY = 100


@dataclass(frozen=True)
class ReceivedEvent:
    """A span event (exceptions arrive as events named `exception`)."""

    name: str
    time_ns: int
    attributes: dict[str, object]


@dataclass(frozen=True)
class ReceivedLink:
    """A link from a span to another span, possibly in another trace."""

    trace_id: str
    span_id: str
    attributes: dict[str, object]


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, decoded to plain Python values so tests can compare them directly."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, object]
    status_code: str
    status_message: str
    events: tuple[ReceivedEvent, ...]
    links: tuple[ReceivedLink, ...]
    resource: dict[str, object]
    scope: str

    @property
    def duration_s(self) -> float:
        """Wall time of the span in seconds."""
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True)
class ReceivedPoint:
    """One data point; `value` for sums and gauges, `count`/`sum`/buckets for distributions."""

    attributes: dict[str, object]
    start_ns: int
    time_ns: int
    value: float | int | None = None
    count: int | None = None
    sum: float | None = None
    bucket_counts: tuple[int, ...] = ()
    explicit_bounds: tuple[float, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ReceivedMetric:
    """One metric of one export; kind is the OTLP data case (sum, gauge, histogram, ...)."""

    name: str
    unit: str
    description: str
    kind: str
    points: tuple[ReceivedPoint, ...]
    resource: dict[str, object]
    scope: str
    monotonic: bool | None = None


@dataclass(frozen=True)
class ReceivedLogRecord:
    """One log record; trace and span ids are set when it was emitted inside a span."""

    time_ns: int
    observed_time_ns: int
    severity_number: int
    severity_text: str
    body: object
    attributes: dict[str, object]
    trace_id: str | None
    span_id: str | None
    resource: dict[str, object]
    scope: str


def _any_value(value: Any) -> object:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which)


def _attributes(key_values: Iterable[Any]) -> dict[str, object]:
    return {kv.key: _any_value(kv.value) for kv in key_values}


def _id(raw: bytes) -> str | None:
    return raw.hex() if raw else None


def _spans(request: Any) -> list[ReceivedSpan]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=_id(span.parent_span_id),
                        name=span.name,
                        kind=_KINDS.get(span.kind, "INTERNAL"),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=_attributes(span.attributes),
                        status_code=_STATUSES.get(span.status.code, "UNSET"),
                        status_message=span.status.message,
                        events=tuple(
                            ReceivedEvent(e.name, e.time_unix_nano, _attributes(e.attributes))
                            for e in span.events
                        ),
                        links=tuple(
                            ReceivedLink(
                                link.trace_id.hex(),
                                link.span_id.hex(),
                                _attributes(link.attributes),
                            )
                            for link in span.links
                        ),
                        resource=resource,
                        scope=scope_spans.scope.name,
                    )
                )
    return spans


def _point(kind: str, point: Any) -> ReceivedPoint:
    common: dict[str, Any] = {
        "attributes": _attributes(point.attributes),
        "start_ns": point.start_time_unix_nano,
        "time_ns": point.time_unix_nano,
    }
    if kind in ("sum", "gauge"):
        which = point.WhichOneof("value")
        return ReceivedPoint(**common, value=getattr(point, which) if which else None)
    if kind == "summary":
        return ReceivedPoint(**common, count=point.count, sum=point.sum)
    # Histograms: sum, min and max are optional fields, absent when not recorded.
    optional: dict[str, Any] = {
        name: getattr(point, name) if point.HasField(name) else None
        for name in ("sum", "min", "max")
    }
    if kind == "histogram":
        common["bucket_counts"] = tuple(point.bucket_counts)
        common["explicit_bounds"] = tuple(point.explicit_bounds)
    return ReceivedPoint(**common, count=point.count, **optional)


def _metrics(request: Any) -> list[ReceivedMetric]:
    metrics = []
    for resource_metrics in request.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data") or "empty"
                data: Any = getattr(metric, kind) if kind != "empty" else None
                metrics.append(
                    ReceivedMetric(
                        name=metric.name,
                        unit=metric.unit,
                        description=metric.description,
                        kind=kind,
                        points=tuple(_point(kind, p) for p in data.data_points) if data else (),
                        resource=resource,
                        scope=scope_metrics.scope.name,
                        monotonic=data.is_monotonic if kind == "sum" else None,
                    )
                )
    return metrics


def _log_records(request: Any) -> list[ReceivedLogRecord]:
    records = []
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append(
                    ReceivedLogRecord(
                        time_ns=record.time_unix_nano,
                        observed_time_ns=record.observed_time_unix_nano,
                        severity_number=record.severity_number,
                        severity_text=record.severity_text,
                        body=_any_value(record.body),
                        attributes=_attributes(record.attributes),
                        trace_id=_id(record.trace_id),
                        span_id=_id(record.span_id),
                        resource=resource,
                        scope=scope_logs.scope.name,
                    )
                )
    return records


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _describe_spans(spans: list[ReceivedSpan]) -> str:
    names = ", ".join(f"{s.name} [{s.kind}]" for s in spans[:20])
    return names + (f", ... ({len(spans) - 20} more)" if len(spans) > 20 else "")


T = TypeVar("T")


_ListeningT = TypeVar("_ListeningT", bound="_Listening")


class _Listening:
    """A receiver's life cycle: a context manager around start/stop, and its endpoint URL
    (the base URL for OTEL_EXPORTER_OTLP_ENDPOINT; SDKs append the signal paths)."""

    host: str
    port: int

    def start(self: _ListeningT) -> _ListeningT:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _ListeningT) -> _ListeningT:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class OtlpReceiver(_Listening):
    """OTLP/HTTP receiver on a background thread, storing everything it is sent.

    Callbacks run on the request thread, before the exporter gets its answer.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        jsonl_path: str | Path | None = None,
        on_span: Callable[[ReceivedSpan], None] | None = None,
        on_spans: Callable[[list[ReceivedSpan]], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.jsonl_path = Path(jsonl_path) if jsonl_path is not None else None
        self._on_span = on_span
        self._on_spans = on_spans
        self._cond = threading.Condition()
        self._jsonl_lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self._metrics: list[ReceivedMetric] = []
        self._log_records: list[ReceivedLogRecord] = []
        self._requests = 0
        self._headers: deque[dict[str, str]] = deque(maxlen=_HEADER_HISTORY)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OtlpReceiver:
        """Bind (raising OSError if the port is taken) and serve on a daemon thread."""
        server_class = _Server6 if ":" in self.host else _Server
        self._server = server_class((self.host, self.port), _Handler)
        self._server.receiver = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.05,),  # poll interval: how long stop() waits for the loop to notice
            name=f"otlp-receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; stored data stays readable."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None


    # -- stored data -----------------------------------------------------------------------

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._cond:
            return list(self._spans)

    @property
    def metrics(self) -> list[ReceivedMetric]:
        with self._cond:
            return list(self._metrics)

    @property
    def log_records(self) -> list[ReceivedLogRecord]:
        with self._cond:
            return list(self._log_records)

    @property
    def requests(self) -> int:
        """Number of export requests accepted (HTTP and gRPC)."""
        with self._cond:
            return self._requests

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """Headers of the last accepted requests, oldest first, names lower-cased."""
        with self._cond:
            return list(self._headers)

    def clear(self) -> None:
        """Forget everything received so far (not the JSONL file)."""
        with self._cond:
            self._spans.clear()
            self._metrics.clear()
            self._log_records.clear()
            self._headers.clear()
            self._requests = 0

    def wait_for_spans(
        self, predicate: Callable[[list[ReceivedSpan]], bool] | int, timeout: float = 10.0
    ) -> list[ReceivedSpan]:
        """Block until the spans satisfy `predicate` (an int means at least that many)."""
        spans = self._wait(self._spans, predicate, timeout)
        if spans is None:
            received = self.spans
            raise TimeoutError(
                f"no matching spans after {timeout} s; received {len(received)}: "
                + (_describe_spans(received) or "nothing")
            )
        return spans

    def wait_for_metrics(
        self, predicate: Callable[[list[ReceivedMetric]], bool] | int, timeout: float = 10.0
    ) -> list[ReceivedMetric]:
        """Block until the metrics satisfy `predicate` (an int means at least that many)."""
        metrics = self._wait(self._metrics, predicate, timeout)
        if metrics is None:
            received = self.metrics
            names = ", ".join(f"{m.name} [{m.kind}]" for m in received)
            raise TimeoutError(
                f"no matching metrics after {timeout} s; received {len(received)}: "
                + (names or "nothing")
            )
        return metrics

    def _wait(
        self, items: list[T], predicate: Callable[[list[T]], bool] | int, timeout: float
    ) -> list[T] | None:
        check: Callable[[list[T]], bool]
        if isinstance(predicate, int):
            wanted = predicate

            def check(current: list[T]) -> bool:
                return len(current) >= wanted

        else:
            check = predicate
        with self._cond:
            if self._cond.wait_for(lambda: check(list(items)), timeout):
                return list(items)
        return None

    # -- ingestion -------------------------------------------------------------------------

    def ingest(self, signal: Signal, request: Any, headers: Mapping[str, str]) -> None:
        """Record one decoded Export*ServiceRequest; the HTTP and gRPC front ends both end here."""
        spans = _spans(request) if signal == "traces" else []
        metrics = _metrics(request) if signal == "metrics" else []
        records = _log_records(request) if signal == "logs" else []
        if spans and self.jsonl_path is not None:
            lines = "".join(
                json.dumps(dataclasses.asdict(span), default=_json_default) + "\n" for span in spans
            )
            with self._jsonl_lock, self.jsonl_path.open("a", encoding="utf-8") as file:
                file.write(lines)
        with self._cond:
            self._requests += 1
            self._headers.append({name.lower(): value for name, value in headers.items()})
            self._spans.extend(spans)
            self._metrics.extend(metrics)
            self._log_records.extend(records)
            self._cond.notify_all()
        if spans and self._on_span is not None:
            for span in spans:
                self._on_span(span)
        if spans and self._on_spans is not None:
            self._on_spans(spans)


# -- HTTP front end --------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _hex_ids_to_base64(node: object) -> object:
    """OTLP JSON spells ids in hex, protobuf JSON wants base64; padded base64 is left alone."""
    if isinstance(node, dict):
        return {
            key: (
                base64.b64encode(bytes.fromhex(value)).decode()
                if key in _ID_KEYS and isinstance(value, str) and _HEX.fullmatch(value)
                else _hex_ids_to_base64(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def _decompress(body: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:  # some clients send raw deflate without the zlib wrapper
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except (OSError, EOFError, zlib.error) as exc:
        raise _Rejected(400, f"cannot decompress {encoding} body: {exc}") from None
    if encoding in ("", "identity"):
        return body
    raise _Rejected(415, f"unsupported Content-Encoding: {encoding}")


def _decode(signal: Signal, body: bytes, media_type: str) -> Any:
    request = _REQUESTS[signal]()
    try:
        if media_type in ("application/x-protobuf", "application/protobuf"):
            request.ParseFromString(body)
        elif media_type == "application/json":
            document = json.loads(body)
            if not isinstance(document, dict):
                raise _Rejected(400, f"a {signal} request must be a JSON object")
            document = _hex_ids_to_base64(document)
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
        else:
            raise _Rejected(415, f"unsupported Content-Type: {media_type or '(none)'}")
    except (DecodeError, json_format.ParseError, ValueError, binascii.Error) as exc:
        raise _Rejected(400, f"cannot decode {media_type} {signal} request: {exc}") from None
    return request


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: OtlpReceiver


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hatch-otel-receiver"

    def do_POST(self) -> None:
        signal = _PATHS.get(urlsplit(self.path).path)
        if signal is None:
            self._reply(
                404, f"no OTLP endpoint at {self.path}\n".encode(), "text/plain", close=True
            )
            return
        media_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        try:
            body = _decompress(self._read_body(), encoding)
            request = _decode(signal, body, media_type)
        except _Rejected as rejected:
            self._reply(rejected.status, f"{rejected}\n".encode(), "text/plain", close=True)
            return
        cast(_Server, self.server).receiver.ingest(signal, request, dict(self.headers.items()))
        response = _RESPONSES[signal]()
        if media_type == "application/json":
            self._reply(200, json_format.MessageToJson(response).encode(), media_type)
        else:
            self._reply(200, response.SerializeToString(), media_type)

    def _read_body(self) -> bytes:
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))
        except ValueError:
            raise _Rejected(400, "malformed Content-Length or chunked body") from None

    def _reply(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            # The body may be unread: the connection cannot be reused.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the receiver's output is what it received, not an access log."""


# -- gRPC front end --------------------------------------------------------------------------


def grpc_available() -> bool:
    """True when grpcio is installed, so OtlpGrpcReceiver can be offered."""
    return importlib.util.find_spec("grpc") is not None


class OtlpGrpcReceiver(_Listening):
    """OTLP/gRPC front end for SDKs set to `grpc`; it stores into an OtlpReceiver."""

    def __init__(self, sink: OtlpReceiver, host: str = "127.0.0.1", port: int = 4317) -> None:
        self.sink = sink
        self.host = host
        self.port = port
        self._server: Any = None

    def start(self) -> OtlpGrpcReceiver:
        """Bind (raising OSError if the port is taken) and serve on grpc's own threads."""
        from concurrent import futures

        # Untyped modules, imported only here so that a missing grpcio costs nothing elsewhere.
        grpc: Any = importlib.import_module("grpc")
        collector = "opentelemetry.proto.collector"
        trace_grpc: Any = importlib.import_module(f"{collector}.trace.v1.trace_service_pb2_grpc")
        mgrpc: Any = importlib.import_module(f"{collector}.metrics.v1.metrics_service_pb2_grpc")
        logs_grpc: Any = importlib.import_module(f"{collector}.logs.v1.logs_service_pb2_grpc")

        # so_reuseport off: a second receiver on a taken port must fail, not share it.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)]
        )
        trace_grpc.add_TraceServiceServicer_to_server(
            self._servicer(trace_grpc.TraceServiceServicer, "traces"), server
        )
        mgrpc.add_MetricsServiceServicer_to_server(
            self._servicer(mgrpc.MetricsServiceServicer, "metrics"), server
        )
        logs_grpc.add_LogsServiceServicer_to_server(
            self._servicer(logs_grpc.LogsServiceServicer, "logs"), server
        )
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if not bound:
            raise OSError(errno.EADDRINUSE, f"cannot bind gRPC on {address}")
        self.port = bound
        server.start()
        self._server = server
        return self

    def _servicer(self, base: Any, signal: Signal) -> Any:
        sink = self.sink

        class Servicer(base):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                metadata = {
                    key: value if isinstance(value, str) else value.hex()
                    for key, value in context.invocation_metadata()
                }
                sink.ingest(signal, request, metadata)
                return _RESPONSES[signal]()

        return Servicer()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None



# -- trace trees -----------------------------------------------------------------------------

_TREE_KEYS = (
    "http.request.method",
    "http.route",
    "url.path",
    "url.full",
    "http.response.status_code",
    "db.system.name",
    "db.operation.name",
    "db.query.text",
    "server.address",
    "error.type",
)
_MAX_VALUE = 80
_BOLD, _DIM, _RED, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[0m"


def _format_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=_json_default)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 3] + "..."
    if isinstance(value, str) and (not text or any(c.isspace() or c == '"' for c in text)):
        return json.dumps(text)
    return text


def _span_line(span: ReceivedSpan, depth: int, color: bool) -> str:
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    parts = [
        "  " * depth + span.name,
        paint(_DIM, f"[{span.kind}] {(span.end_ns - span.start_ns) / 1e6:.2f} ms"),
    ]
    parts += [
        f"{key}={_format_value(span.attributes[key])}"
        for key in _TREE_KEYS
        if key in span.attributes
    ]
    if span.status_code == "ERROR":
        parts.append(
            paint(_RED, "ERROR" + (f": {span.status_message}" if span.status_message else ""))
        )
    return " ".join(parts)


def format_trace_tree(spans: Iterable[ReceivedSpan], color: bool = False) -> str:
    """Render spans as one indented tree per trace, so a person can see what was woven."""
    traces: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    lines: list[str] = []
    for trace_id, members in sorted(traces.items(), key=lambda t: min(s.start_ns for s in t[1])):
        ids = {span.span_id for span in members}
        children: dict[str | None, list[ReceivedSpan]] = {}
        for span in sorted(members, key=lambda s: s.start_ns):
            parent = span.parent_span_id
            if parent not in ids or parent == span.span_id:
                parent = None  # orphans (parent not received) go to the top level
            children.setdefault(parent, []).append(span)
        services = dict.fromkeys(
            str(s.resource.get("service.name", "unknown_service")) for s in members
        )
        header = f"trace {trace_id} ({', '.join(services)})"
        lines.append(f"{_BOLD}{header}{_RESET}" if color else header)

        _walk(children, None, 1, color, lines)
    return "\n".join(lines)


def _walk(
    children: dict[str | None, list[ReceivedSpan]],
    parent: str | None,
    depth: int,
    color: bool,
    lines: list[str],
) -> None:
    for child in children.get(parent, []):
        lines.append(_span_line(child, depth, color))
        _walk(children, child.span_id, depth + 1, color, lines)
