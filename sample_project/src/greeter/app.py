"""The routes: a greeting, and a chain that calls another service and records the answer."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.request

from flask import Flask, request

app = Flask(__name__)


@app.get("/greet")
def greet() -> str:
    return "Hello, OpenTelemetry!"


@app.get("/chain")
def chain() -> dict[str, object]:
    upstream = os.environ.get("GREETER_UPSTREAM") or request.host_url + "greet"
    with urllib.request.urlopen(upstream, timeout=5) as response:
        answer = response.read().decode()
    with contextlib.closing(sqlite3.connect(os.environ.get("GREETER_DB", ":memory:"))) as db:
        db.execute("CREATE TABLE IF NOT EXISTS greetings (text TEXT)")
        db.execute("INSERT INTO greetings (text) VALUES (?)", (answer,))
        count = db.execute("SELECT count(*) FROM greetings WHERE text = 'Hello'").fetchone()[0]
        db.commit()
    return {"upstream": answer, "greetings": count}


@app.get("/fail")
def fail() -> str:
    raise RuntimeError("the greeter failed on purpose")
