"""Django, built through the hook, served by gunicorn (WSGI) and uvicorn (ASGI).

Tested at Django 5.2.19 (the newest release for Python 3.11; 6.x needs 3.12), gunicorn 27.0.1
and uvicorn 0.54.0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import (
    CAPTURE_SWITCHES,
    ITEM_HEADERS,
    AppsEnv,
    assert_failed_request,
    assert_not_found,
    assert_traced_request,
    build_wheel,
    duration_points,
    server_spans,
    serving_app,
    write_project,
)
from e2e import free_port, get
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

REQUIREMENTS = ("django==5.2.19", "gunicorn==27.0.1", "uvicorn==0.54.0")
FILES = {
    "__init__.py": "",
    "settings.py": '''
        SECRET_KEY = "test-only"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        ROOT_URLCONF = "djsite.urls"
        INSTALLED_APPS = []
        MIDDLEWARE = []
        DATABASES = {}
        USE_TZ = True
    ''',
    "urls.py": '''
        from django.urls import path

        from . import views

        urlpatterns = [
            path("items/<int:item_id>/", views.item),
            path("boom/", views.boom),
            path("health/", views.health),
        ]
    ''',
    "views.py": '''
        from django.http import HttpResponse, JsonResponse


        class BoomError(Exception):
            pass


        def item(request, item_id):
            return JsonResponse({"id": item_id})


        def boom(request):
            raise BoomError("kaboom")


        def health(request):
            return HttpResponse("ok")
    ''',
    "wsgi.py": '''
        import os

        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
        application = get_wsgi_application()
    ''',
    "asgi.py": '''
        import os

        from django.core.asgi import get_asgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
        application = get_asgi_application()
    ''',
}
SWITCHES = {"OTEL_PYTHON_DJANGO_EXCLUDED_URLS": "health", **CAPTURE_SWITCHES}
SERVERS = {
    "gunicorn": ["-m", "gunicorn", "djsite.wsgi:application", "--workers", "1"],
    "uvicorn": ["-m", "uvicorn", "djsite.asgi:application", "--log-level", "warning"],
}


@pytest.fixture(scope="module")
def djsite(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    """The Django project's wheel, built once and installed with Django and both servers."""
    apps_env.require(*REQUIREMENTS)
    work = tmp_path_factory.mktemp("django")
    project = write_project(work / "project", "djsite", FILES, dependencies=("django",))
    wheel, _ = build_wheel(project, work / "dist")
    apps_env.install_wheel(wheel)
    return apps_env


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_django_requests_are_server_spans_named_after_their_url_pattern(
        djsite: AppsEnv, tmp_path: Path, receiver: OtlpReceiver, server: str):
    port = free_port()
    bind = ["--bind", f"127.0.0.1:{port}"] if server == "gunicorn" else ["--port", str(port)]
    with serving_app(djsite, SERVERS[server] + bind, receiver, port, SWITCHES,
                     tmp_path / "server.log"):
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/health/")[0] == 200  # excluded: first, so its span would be first
        assert get(f"{base}/items/7/?token=abc&page=2", ITEM_HEADERS) == (200, '{"id": 7}')
        assert get(f"{base}/boom/")[0] == 500
        assert get(f"{base}/nowhere/")[0] == 404
        spans = server_spans(receiver, "/items/7/", "/boom/", "/nowhere/")
        points = duration_points(receiver, "items/<int:item_id>/")

    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/health/"]
    item = spans["/items/7/"]
    assert_traced_request(item, "django", "items/<int:item_id>/", port)

    assert_failed_request(spans["/boom/"], "GET boom/", "djsite.views.BoomError")

    assert_not_found(spans["/nowhere/"])

    assert points[0].attributes["http.response.status_code"] == 200
    assert points[0].attributes["http.request.method"] == "GET"
