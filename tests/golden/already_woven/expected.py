"""Woven before."""; import shop._otel as _hatch_otel
from flask import Flask

app = _hatch_otel.at("flask.app", Flask)(__name__)

@_hatch_otel.fn("trace.0")
def index():
    return "hi"

@_hatch_otel.then(app.route("/"), "trace.0")
def root():
    return "root"
