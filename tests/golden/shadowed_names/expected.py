import shop._otel as _hatch_otel; from sqlite3 import connect


def real(path):
    return _hatch_otel.at("sqlite3.connect", connect)(path)


def shadowed(pool):
    connect = pool.connect  # a local name: libcst's scopes tell the two apart
    return connect()


def parameter(connect):
    return connect(":memory:")
