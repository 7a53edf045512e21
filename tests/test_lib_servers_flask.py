"""Flask, built through the hook, served by Flask's own development server (Werkzeug).

Tested at Flask 3.1.3, the newest release (tests/lowest_versions.py runs it at the lowest).
The sample project's end-to-end test covers the greeter; this one covers what a Flask app
does beyond it: route variables, blueprints, errors, 404, and the per-library switches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from apps import (
    CAPTURE_SWITCHES,
    ITEM_HEADERS,
    AppsEnv,
    assert_failed_request,
    assert_not_found,
    assert_traced_request,
    build_wheel,
    duration_points,
    pinned,
    server_spans,
    serving_app,
    write_project,
)
from e2e import free_port, get
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

FLASK = "flask==3.1.3"
FILES = {
    "__init__.py": "",
    "app.py": '''
        from flask import Blueprint, Flask, jsonify

        app = Flask(__name__)
        shop = Blueprint("shop", __name__, url_prefix="/shop")


        class BoomError(Exception):
            pass


        @app.get("/items/<int:item_id>")
        def item(item_id):
            return jsonify(id=item_id)


        @shop.get("/orders/<order_id>")
        def order(order_id):
            return {"order": order_id}


        @app.get("/boom")
        def boom():
            raise BoomError("kaboom")


        @app.get("/health")
        def health():
            return "ok"


        app.register_blueprint(shop)
    ''',
}
SWITCHES = {"OTEL_PYTHON_FLASK_EXCLUDED_URLS": "health", **CAPTURE_SWITCHES}


@pytest.fixture(scope="module")
def flasksite(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    """The Flask app's wheel, built once and installed with Flask."""
    flask = pinned(FLASK)
    # Flask before 2.3 imports what Werkzeug 3 removed, and does not say so in its metadata
    old = Version(flask.split("==")[1]) < Version("2.3")
    apps_env.require(flask, *(["werkzeug<3"] if old else []))
    work = tmp_path_factory.mktemp("flask")
    project = write_project(work / "project", "flasksite", FILES, dependencies=("flask",))
    wheel, _ = build_wheel(project, work / "dist")
    apps_env.install_wheel(wheel)
    return apps_env


def test_flask_requests_are_server_spans_named_after_their_rule(
        flasksite: AppsEnv, tmp_path: Path, receiver: OtlpReceiver):
    port = free_port()
    command = ["-m", "flask", "--app", "flasksite.app", "run", "--port", str(port)]
    with serving_app(flasksite, command, receiver, port, SWITCHES, tmp_path / "server.log"):
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/health")[0] == 200  # excluded: first, so its span would be first
        assert get(f"{base}/items/7?token=abc&page=2", ITEM_HEADERS)[0] == 200
        assert get(f"{base}/shop/orders/A-1")[0] == 200
        assert get(f"{base}/boom")[0] == 500
        assert get(f"{base}/nowhere")[0] == 404
        spans = server_spans(receiver, "/items/7", "/shop/orders/A-1", "/boom", "/nowhere")
        points = duration_points(receiver, "/items/<int:item_id>")

    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/health"]
    item = spans["/items/7"]
    assert_traced_request(item, "flask", "/items/<int:item_id>", port)
    assert item.attributes["url.path"] == "/items/7"

    order = spans["/shop/orders/A-1"]
    assert (order.name, order.attributes["http.route"]) == ("GET /shop/orders/<order_id>",
                                                            "/shop/orders/<order_id>")

    assert_failed_request(spans["/boom"], "GET /boom", "flasksite.app.BoomError")

    assert_not_found(spans["/nowhere"])

    assert points[0].attributes["http.response.status_code"] == 200
    assert points[0].attributes["http.request.method"] == "GET"
