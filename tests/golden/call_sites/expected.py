import shop._otel as _hatch_otel; import sqlite3
import sqlite3 as lite
import urllib.request
from urllib.request import urlopen as fetch

import flask
from flask import Flask

app = _hatch_otel.at("flask.app", Flask)(__name__)
other = _hatch_otel.at("flask.app", flask.Flask)("other", static_folder=None)


def query(path):
    with _hatch_otel.at("sqlite3.connect", lite.connect)(path) as db:
        return db.execute("SELECT 1").fetchone()


def nested(url):
    return _hatch_otel.at("sqlite3.connect", sqlite3.connect)(
        _hatch_otel.at("urllib.urlopen", fetch)(url, timeout=3).read().decode(),
        isolation_level=None,
    )


def not_a_target(connect):
    return connect(":memory:"), urllib.request.Request("http://example.com")
