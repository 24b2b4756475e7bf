import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.base")

app = Celery("dialix")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids into task headers and back, task log context, JSON logs and metrics in workers (signal receivers).
import dialix.observability  # noqa: E402,F401
