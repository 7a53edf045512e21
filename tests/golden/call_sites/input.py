import sqlite3
import sqlite3 as lite
import urllib.request
from urllib.request import urlopen as fetch

import flask
from flask import Flask

app = Flask(__name__)
other = flask.Flask("other", static_folder=None)


def query(path):
    with lite.connect(path) as db:
        return db.execute("SELECT 1").fetchone()


def nested(url):
    return sqlite3.connect(
        fetch(url, timeout=3).read().decode(),
        isolation_level=None,
    )


def not_a_target(connect):
    return connect(":memory:"), urllib.request.Request("http://example.com")
