from sqlite3 import connect


def real(path):
    return connect(path)


def shadowed(pool):
    connect = pool.connect  # a local name: libcst's scopes tell the two apart
    return connect()


def parameter(connect):
    return connect(":memory:")
