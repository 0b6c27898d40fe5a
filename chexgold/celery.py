"""The Celery app. Workers: `celery -A chexgold worker -Q default` (CPU) and
`celery -A chexgold worker -Q gpu` (model inference and training)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chexgold.settings")

app = Celery("chexgold")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
