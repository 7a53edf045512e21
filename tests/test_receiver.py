"""The OTLP receiver, fed by the real OpenTelemetry SDK exporters and by hand-made requests."""

from __future__ import annotations

import gzip
import http.client
import importlib
import json
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from hatch_otel.receiver import (
    OtlpGrpcReceiver,
    OtlpReceiver,
    ReceivedEvent,
    ReceivedSpan,
    format_trace_tree,
)

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def tracer_provider(
    receiver: OtlpReceiver,
    batch: bool = True,
    headers: dict[str, str] | None = None,
    compression: Compression | None = None,
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{receiver.endpoint}/v1/traces", headers=headers, compression=compression
    )
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return provider


def post(
    url: str, body: bytes, content_type: str, encoding: str | None = None
) -> tuple[int, str, bytes]:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def hand_made_trace_request() -> trace_service_pb2.ExportTraceServiceRequest:
    span = trace_pb2.Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
        name="GET /items",
        kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1_000_000_000,
        end_time_unix_nano=1_250_000_000,
        attributes=[
            common_pb2.KeyValue(key="raw", value=common_pb2.AnyValue(bytes_value=b"\x01\xff")),
            common_pb2.KeyValue(
                key="map",
                value=common_pb2.AnyValue(
                    kvlist_value=common_pb2.KeyValueList(
                        values=[
                            common_pb2.KeyValue(key="a", value=common_pb2.AnyValue(int_value=1))
                        ]
                    )
                ),
            ),
        ],
    )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(
                    attributes=[
                        common_pb2.KeyValue(
                            key="service.name", value=common_pb2.AnyValue(string_value="hand")
                        )
                    ]
                ),
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        scope=common_pb2.InstrumentationScope(name="by-hand"), spans=[span]
                    )
                ],
            )
        ]
    )


def test_spans_from_the_sdk_exporter_are_decoded(receiver: OtlpReceiver) -> None:
    provider = tracer_provider(receiver, headers={"x-tenant": "acme"})
    tracer = provider.get_tracer("shop.web", "1.0")
    attributes: dict[str, AttributeValue] = {
        "http.request.method": "GET",
        "n": 3,
        "ratio": 0.5,
        "ok": True,
        "tags": ["a", "b"],
    }
    with (
        tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER, attributes=attributes),
        tracer.start_as_current_span("SELECT cart", kind=SpanKind.CLIENT) as child,
    ):
        time.sleep(0.01)
        child.add_event("retry", {"attempt": 2})
        child.set_status(Status(StatusCode.ERROR, "db down"))
    provider.force_flush()

    spans = receiver.wait_for_spans(2)
    provider.shutdown()
    by_name = {span.name: span for span in spans}
    root, child_span = by_name["GET /cart"], by_name["SELECT cart"]
    assert len(root.trace_id) == 32 and len(root.span_id) == 16
    assert child_span.trace_id == root.trace_id
    assert root.parent_span_id is None
    assert child_span.parent_span_id == root.span_id
    assert (root.kind, child_span.kind) == ("SERVER", "CLIENT")
    assert root.attributes == attributes
    assert type(root.attributes["n"]) is int and type(root.attributes["ok"]) is bool
    assert root.status_code == "UNSET"
    assert (child_span.status_code, child_span.status_message) == ("ERROR", "db down")
    assert [(e.name, e.attributes) for e in child_span.events] == [("retry", {"attempt": 2})]
    assert child_span.start_ns <= child_span.events[0].time_ns <= child_span.end_ns
    assert 0.01 <= child_span.duration_s <= root.duration_s < 5
    assert root.resource["service.name"] == "shop"
    assert root.scope == "shop.web"
    assert receiver.requests == 1
    headers = receiver.request_headers[-1]
    assert headers["x-tenant"] == "acme"
    assert headers["content-type"] == "application/x-protobuf"


def test_on_span_callbacks_see_each_span_and_each_batch() -> None:
    seen: list[str] = []
    batches: list[int] = []
    with OtlpReceiver(
        on_span=lambda s: seen.append(s.name), on_spans=lambda b: batches.append(len(b))
    ) as receiver:
        provider = tracer_provider(receiver, batch=False)
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
            pass
        provider.shutdown()
    assert seen == ["inner", "outer"]
    assert batches == [1, 1]


def test_gzip_compressed_export(receiver: OtlpReceiver) -> None:
    provider = tracer_provider(receiver, compression=Compression.Gzip)
    provider.get_tracer("t").start_span("zipped").end()
    provider.force_flush()
    assert [span.name for span in receiver.wait_for_spans(1)] == ["zipped"]
    provider.shutdown()
    assert receiver.request_headers[-1]["content-encoding"] == "gzip"


def test_metrics_from_the_sdk_exporter_are_decoded(receiver: OtlpReceiver) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{receiver.endpoint}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "shop"}), metric_readers=[reader]
    )
    meter = provider.get_meter("shop.metrics")
    counter = meter.create_counter("orders", unit="{order}", description="Orders placed")
    counter.add(2, {"region": "eu"})
    counter.add(3, {"region": "eu"})
    histogram = meter.create_histogram("latency", unit="s")
    for value in (0.1, 0.2, 7.0):
        histogram.record(value)
    provider.force_flush()

    metrics = {m.name: m for m in receiver.wait_for_metrics(2)}
    provider.shutdown()
    orders, latency = metrics["orders"], metrics["latency"]
    assert (orders.kind, orders.unit, orders.description) == ("sum", "{order}", "Orders placed")
    assert orders.monotonic is True
    assert [(p.attributes, p.value) for p in orders.points] == [({"region": "eu"}, 5)]
    assert orders.resource["service.name"] == "shop" and orders.scope == "shop.metrics"
    assert latency.kind == "histogram" and latency.monotonic is None
    (point,) = latency.points
    assert point.count == 3 and point.sum == pytest.approx(7.3)
    assert (point.min, point.max) == (0.1, 7.0)
    assert sum(point.bucket_counts) == 3
    assert len(point.bucket_counts) == len(point.explicit_bounds) + 1


def test_json_with_hex_ids_is_accepted(receiver: OtlpReceiver) -> None:
    document = json_format.MessageToDict(hand_made_trace_request())
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"], span["spanId"] = TRACE_ID, SPAN_ID  # OTLP JSON spells ids in hex
    span["kind"] = 2  # and may give enums as numbers

    status, content_type, body = post(
        f"{receiver.endpoint}/v1/traces", json.dumps(document).encode(), "application/json"
    )

    assert (status, content_type, json.loads(body)) == (200, "application/json", {})
    (received,) = receiver.spans
    assert (received.trace_id, received.span_id, received.kind) == (TRACE_ID, SPAN_ID, "SERVER")
    assert received.attributes == {"raw": b"\x01\xff", "map": {"a": 1}}
    assert received.resource == {"service.name": "hand"} and received.scope == "by-hand"
    assert received.duration_s == 0.25


def test_deflate_and_chunked_protobuf_bodies(receiver: OtlpReceiver) -> None:
    body = hand_made_trace_request().SerializeToString()
    status, content_type, answer = post(
        f"{receiver.endpoint}/v1/traces", zlib.compress(body), "application/x-protobuf", "deflate"
    )
    assert (status, content_type, answer) == (200, "application/x-protobuf", b"")

    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    connection.request(
        "POST", "/v1/traces", iter([gzip.compress(body)]), headers, encode_chunked=True
    )
    assert connection.getresponse().status == 200
    connection.close()
    assert [span.span_id for span in receiver.spans] == [SPAN_ID, SPAN_ID]


def test_log_records_are_decoded(receiver: OtlpReceiver) -> None:
    record = logs_pb2.LogRecord(
        time_unix_nano=5,
        severity_number=logs_pb2.SEVERITY_NUMBER_WARN,
        severity_text="WARN",
        body=common_pb2.AnyValue(string_value="disk almost full"),
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
    )
    request = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=[record])])]
    )
    status, _, _ = post(
        f"{receiver.endpoint}/v1/logs", request.SerializeToString(), "application/x-protobuf"
    )
    assert status == 200
    (received,) = receiver.log_records
    assert (received.body, received.severity_text, received.severity_number) == (
        "disk almost full",
        "WARN",
        13,
    )
    assert (received.trace_id, received.span_id) == (TRACE_ID, SPAN_ID)


@pytest.mark.parametrize(
    ("path", "body", "content_type", "encoding", "expected"),
    [
        ("/v1/traces", b"\xff\xff\xff", "application/x-protobuf", None, 400),
        ("/v1/traces", b"{not json", "application/json", None, 400),
        ("/v1/metrics", b'{"resourceMetrics": 3}', "application/json", None, 400),
        ("/v1/logs", b"null", "application/json", None, 400),
        ("/v1/traces", b"not gzip", "application/x-protobuf", "gzip", 400),
        ("/v1/traces", b"", "text/plain", None, 415),
        ("/v1/trace", b"", "application/x-protobuf", None, 404),
    ],
)
def test_bad_requests_are_refused(
    receiver: OtlpReceiver,
    path: str,
    body: bytes,
    content_type: str,
    encoding: str | None,
    expected: int,
) -> None:
    status, answer_type, answer = post(receiver.endpoint + path, body, content_type, encoding)
    assert (status, answer_type) == (expected, "text/plain")
    assert answer.strip() and b"\n" not in answer.strip()
    assert receiver.requests == 0


def test_jsonl_file_gets_one_object_per_span(tmp_path: Path) -> None:
    jsonl = tmp_path / "spans.jsonl"
    with OtlpReceiver(jsonl_path=jsonl) as receiver:
        body = hand_made_trace_request().SerializeToString()
        for _ in range(2):
            assert post(f"{receiver.endpoint}/v1/traces", body, "application/x-protobuf")[0] == 200
    lines = jsonl.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "parent_span_id": None,
        "name": "GET /items",
        "kind": "SERVER",
        "start_ns": 1_000_000_000,
        "end_ns": 1_250_000_000,
        "attributes": {"raw": "01ff", "map": {"a": 1}},
        "status_code": "UNSET",
        "status_message": "",
        "events": [],
        "links": [],
        "resource": {"service.name": "hand"},
        "scope": "by-hand",
    }


def test_wait_for_spans_times_out_with_what_arrived(receiver: OtlpReceiver) -> None:
    post(
        f"{receiver.endpoint}/v1/traces",
        hand_made_trace_request().SerializeToString(),
        "application/x-protobuf",
    )
    assert len(receiver.wait_for_spans(lambda spans: spans[0].kind == "SERVER")) == 1
    with pytest.raises(TimeoutError, match=r"received 1: GET /items \[SERVER\]"):
        receiver.wait_for_spans(2, timeout=0.2)
    with pytest.raises(TimeoutError, match="received 0: nothing"):
        receiver.wait_for_metrics(1, timeout=0.1)
    receiver.clear()
    assert (receiver.spans, receiver.requests, receiver.request_headers) == ([], 0, [])


def test_grpc_front_end_stores_into_the_same_receiver(receiver: OtlpReceiver) -> None:
    grpc = pytest.importorskip("grpc")
    trace_service_pb2_grpc = importlib.import_module(
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc"
    )

    with (
        OtlpGrpcReceiver(receiver, port=0) as grpc_receiver,
        grpc.insecure_channel(f"127.0.0.1:{grpc_receiver.port}") as channel,
    ):
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        stub.Export(hand_made_trace_request(), metadata=[("x-tenant", "acme")], timeout=5)
    assert [span.span_id for span in receiver.spans] == [SPAN_ID]
    assert receiver.request_headers[-1]["x-tenant"] == "acme"


def span(
    name: str,
    span_id: str,
    parent: str | None,
    start_ms: float,
    end_ms: float,
    trace_id: str = TRACE_ID,
    kind: str = "INTERNAL",
    status: tuple[str, str] = ("UNSET", ""),
    **attributes: object,
) -> ReceivedSpan:
    return ReceivedSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_ns=int(start_ms * 1_000_000),
        end_ns=int(end_ms * 1_000_000),
        attributes={key.replace("_", "."): value for key, value in attributes.items()},
        status_code=status[0],
        status_message=status[1],
        events=(ReceivedEvent("exception", 0, {}),) if status[0] == "ERROR" else (),
        links=(),
        resource={"service.name": "shop"},
        scope="test",
    )


def test_format_trace_tree() -> None:
    other_trace = "0" * 31 + "1"
    spans = [
        span(
            "SELECT",
            "0000000000000003",
            "0000000000000002",
            2,
            3.5,
            kind="CLIENT",
            db_system_name="postgresql",
            db_query_text="SELECT * FROM items",
        ),
        span(
            "GET /items/{id}",
            "0000000000000001",
            None,
            0,
            12.345,
            kind="SERVER",
            http_request_method="GET",
            http_route="/items/{id}",
            ignored="x",
        ),
        span("load_item", "0000000000000002", "0000000000000001", 1, 4),
        span(
            "render",
            "0000000000000004",
            "0000000000000001",
            5,
            6,
            status=("ERROR", "template missing"),
            error_type="KeyError",
        ),
        span("late child", "0000000000000005", "00000000000000ff", 7, 8),
        span("job", "0000000000000006", None, 20, 21, trace_id=other_trace, kind="CONSUMER"),
    ]
    assert format_trace_tree(spans) == "\n".join(
        [
            f"trace {TRACE_ID} (shop)",
            "  GET /items/{id} [SERVER] 12.35 ms http.request.method=GET http.route=/items/{id}",
            "    load_item [INTERNAL] 3.00 ms",
            "      SELECT [CLIENT] 1.50 ms db.system.name=postgresql"
            ' db.query.text="SELECT * FROM items"',
            "    render [INTERNAL] 1.00 ms error.type=KeyError ERROR: template missing",
            "  late child [INTERNAL] 1.00 ms",
            f"trace {other_trace} (shop)",
            "  job [CONSUMER] 1.00 ms",
        ]
    )
    colored = format_trace_tree(spans[3:4], color=True)
    assert "\x1b[31mERROR: template missing\x1b[0m" in colored
    assert format_trace_tree([]) == ""
