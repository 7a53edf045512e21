import shop._otel as _hatch_otel; from celery import shared_task


@_hatch_otel.then(shared_task, "celery.task")
def plain(x):
    return x


@_hatch_otel.then(shared_task(bind=True), "celery.task")
def bound(self, x):
    return x


def untouched(x):
    return x
