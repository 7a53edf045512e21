from celery import shared_task


@shared_task
def plain(x):
    return x


@shared_task(bind=True)
def bound(self, x):
    return x


def untouched(x):
    return x
